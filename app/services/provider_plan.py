"""What going online needs and costs: the plan read from chain and the checklist's items.

Kept apart from ``provider_service`` so the checklist can use them without importing the service.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

GAS_PER_SETUP_TX = 400_000
SETUP_TXS = 6  # approve + register, approve + model, approve + bid


class CheckStatus(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class CheckItem:
    key: str
    label: str
    status: CheckStatus
    detail: str


@dataclass(frozen=True)
class ProviderPlan:
    """Everything "go online" will do and cost, read from chain before anything is sent."""

    provider_stake_to_add: int
    model_stake_to_add: int
    bid_fee: int
    price_per_second: int
    model_id: str
    existing_bid: str | None

    @property
    def mor_needed(self) -> int:
        fee = 0 if self.existing_bid else self.bid_fee
        return self.provider_stake_to_add + self.model_stake_to_add + fee
