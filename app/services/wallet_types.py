"""The plain data the wallet service works with: what it needs from a chain, a send preview, a
transaction record. Kept apart from the service so each file stays readable."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from app.chain.client import FeeEstimate
from app.wallet.signer import Signer
from app.wallet.units import format_amount

FeeQuote = FeeEstimate  # the wallet's name for the chain client's fee estimate

Asset = Literal["ETH", "MOR"]
ETH_DECIMALS = 18


class WalletChain(Protocol):
    """What the wallet needs from a chain client (``app.chain.client.ChainClient`` fits it)."""

    @property
    def chain_id(self) -> int: ...

    @property
    def explorer_url(self) -> str | None:
        """Base URL of a block explorer (``{url}/tx/{hash}``), or None for a local chain."""
        ...

    async def eth_balance(self, address: str) -> int: ...

    async def mor_balance(self, address: str) -> int: ...

    async def mor_decimals(self) -> int: ...

    async def estimate_fee(self, asset: Asset, sender: str, to: str, amount: int) -> FeeQuote: ...

    async def send_eth(self, signer: Signer, to: str, amount: int, fee: FeeQuote) -> str: ...

    async def send_mor(self, signer: Signer, to: str, amount: int, fee: FeeQuote) -> str: ...

    async def transaction_status(self, tx_hash: str) -> str:
        """ "pending", "confirmed" or "failed"."""
        ...


@dataclass(frozen=True)
class Balances:
    eth: int
    mor: int
    mor_decimals: int = 18


@dataclass(frozen=True)
class SendPreview:
    asset: Asset
    sender: str
    to: str
    amount: int
    decimals: int
    fee: FeeQuote
    eth_balance: int
    asset_balance: int

    @property
    def eth_needed(self) -> int:
        return self.fee.max_cost + (self.amount if self.asset == "ETH" else 0)

    @property
    def gas_missing(self) -> int:
        """Exact wei of ETH missing to pay amount + the highest possible fee (0 when enough)."""
        return max(0, self.eth_needed - self.eth_balance)

    @property
    def eth_after(self) -> int:
        return self.eth_balance - self.eth_needed

    @property
    def asset_after(self) -> int:
        return self.eth_after if self.asset == "ETH" else self.asset_balance - self.amount

    def gas_warning(self) -> str | None:
        if not self.gas_missing:
            return None
        return (
            f"Not enough ETH to pay the network fee: {format_amount(self.gas_missing)} ETH "
            f"missing (fee up to {format_amount(self.fee.max_cost)} ETH, you have "
            f"{format_amount(self.eth_balance)} ETH)."
        )


@dataclass
class TxRecord:
    tx_hash: str
    chain_id: int
    asset: str
    sender: str
    to: str
    amount: int
    max_fee: int
    status: str = "pending"  # pending | confirmed | failed
    created: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["amount"] = str(self.amount)
        d["max_fee"] = str(self.max_fee)
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TxRecord:
        return cls(
            tx_hash=str(d["tx_hash"]),
            chain_id=int(d["chain_id"]),
            asset=str(d["asset"]),
            sender=str(d["sender"]),
            to=str(d["to"]),
            amount=int(d["amount"]),
            max_fee=int(d["max_fee"]),
            status=str(d.get("status", "pending")),
            created=float(d.get("created", 0.0)),
        )


Listener = Callable[[str], None]
