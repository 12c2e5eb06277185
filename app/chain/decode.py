"""Decoding what the chain answers: the Diamond's struct tuples into ``app.market.types``, and
the small result types of the chain client (a batched call, a fee estimate, a MOR transfer)."""


from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from app.chain.abi import Fn, checksum
from app.market.types import (
    SD,
    Bid,
    Model,
    ModelStats,
    Provider,
    ProviderModelStats,
    Session,
    id_hex,
)

PAGE = 1000  # items per paginated getter call
MULTICALL_CHUNK = 250  # sub-calls per aggregate3 (keeps each eth_call far below gas caps)
BATCH_LIMIT = 40  # JSON-RPC requests per HTTP batch (public nodes cap batch sizes)
T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """One contract read to fold into a batch."""

    to: str
    fn: Fn
    args: tuple[Any, ...] = ()


# --- decoding of struct tuples into domain types --------------------------------------------


def _sd(t: Sequence[int]) -> SD:
    return SD(int(t[0]), int(t[1]))


def provider_from(address: str, t: Sequence[Any]) -> Provider:
    return Provider(checksum(address), t[0], t[1], t[2], t[3], t[4], bool(t[5]))


def model_from(model_id: str, t: Sequence[Any]) -> Model:
    return Model(
        id=id_hex(model_id), ipfs_cid=id_hex(t[0]), fee=t[1], stake=t[2],
        owner=checksum(t[3]), name=t[4], tags=tuple(t[5]), created_at=t[6],
        is_deleted=bool(t[7]),
    )


def bid_from(bid_id: str, t: Sequence[Any]) -> Bid:
    return Bid(id_hex(bid_id), checksum(t[0]), id_hex(t[1]), t[2], t[3], t[4], t[5])


def session_from(session_id: str, t: Sequence[Any]) -> Session:
    return Session(
        id=id_hex(session_id), user=checksum(t[0]), bid_id=id_hex(t[1]), stake=t[2],
        closeout_receipt=bytes(t[3]), closeout_type=t[4], provider_withdrawn_amount=t[5],
        opened_at=t[6], ends_at=t[7], closed_at=t[8], is_active=bool(t[9]),
        is_direct_payment=bool(t[10]),
    )


def pm_stats_from(t: Sequence[Any]) -> ProviderModelStats:
    return ProviderModelStats(_sd(t[0]), _sd(t[1]), t[2], t[3], t[4])


def model_stats_from(t: Sequence[Any]) -> ModelStats:
    return ModelStats(_sd(t[0]), _sd(t[1]), _sd(t[2]), t[3])


@dataclass(frozen=True)
class FeeEstimate:
    """An EIP-1559 fee: at most ``gas_limit * max_fee_per_gas`` wei of ETH is paid."""

    gas_limit: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int

    @property
    def max_cost(self) -> int:
        return self.gas_limit * self.max_fee_per_gas


@dataclass(frozen=True)
class MorTransfer:
    tx_hash: str
    block: int
    sender: str
    to: str
    amount: int


def _chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
