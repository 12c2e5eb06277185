"""What the provider needs to know from the chain, as a narrow interface.

The chain client lives elsewhere; the provider only asks two questions (is this session real and
whose is it; is this bid real and whose is it), so tests can answer them with a dict and the real
node answers them from the Diamond contract.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class SessionInfo:
    session_id: bytes
    user: str  # lowercase 0x address
    bid_id: bytes
    ends_at: int  # unix seconds
    closed_at: int  # unix seconds, 0 while open
    is_active: bool = True


@dataclass(frozen=True)
class BidInfo:
    bid_id: bytes
    provider: str  # lowercase 0x address
    model_id: bytes
    price_per_second: int  # wei
    deleted_at: int = 0


class SessionLookup(Protocol):
    async def get_session(self, session_id: bytes) -> SessionInfo | None:
        """The on-chain session, or None if it does not exist."""
        ...

    async def get_bid(self, bid_id: bytes) -> BidInfo | None:
        """The on-chain bid, or None if it does not exist."""
        ...


class InMemoryLookup:
    """A ``SessionLookup`` backed by dicts: for benchmarks, demos and tests without a chain."""

    def __init__(self) -> None:
        self.sessions: dict[bytes, SessionInfo] = {}
        self.bids: dict[bytes, BidInfo] = {}

    async def get_session(self, session_id: bytes) -> SessionInfo | None:
        return self.sessions.get(session_id)

    async def get_bid(self, bid_id: bytes) -> BidInfo | None:
        return self.bids.get(bid_id)
