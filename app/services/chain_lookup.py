"""Answers the provider node's two questions (whose session, whose bid) from the Diamond."""

from __future__ import annotations

import time

from app.chain.client import ChainClient
from app.market.types import id_hex
from app.p2p.ports import BidInfo, SessionInfo

_BID_TTL_S = 30.0


class ChainSessionLookup:
    """Sessions are read fresh each time (a close must be seen at once); bids are cached briefly."""

    def __init__(self, chain: ChainClient) -> None:
        self.chain = chain
        self._bids: dict[bytes, tuple[float, BidInfo | None]] = {}

    async def get_session(self, session_id: bytes) -> SessionInfo | None:
        s = await self.chain.get_session(session_id)
        if not s.exists:
            return None
        return SessionInfo(
            session_id=session_id,
            user=s.user.lower(),
            bid_id=bytes.fromhex(s.bid_id[2:]),
            ends_at=s.ends_at,
            closed_at=s.closed_at,
            is_active=s.is_active,
        )

    async def get_bid(self, bid_id: bytes) -> BidInfo | None:
        now = time.monotonic()
        hit = self._bids.get(bid_id)
        if hit and now - hit[0] < _BID_TTL_S:
            return hit[1]
        b = await self.chain.get_bid(bid_id)
        info = (
            None
            if b.created_at == 0
            else BidInfo(
                bid_id=bid_id,
                provider=b.provider.lower(),
                model_id=bytes.fromhex(id_hex(b.model_id)[2:]),
                price_per_second=b.price_per_second,
                deleted_at=b.deleted_at,
            )
        )
        self._bids[bid_id] = (now, info)
        return info
