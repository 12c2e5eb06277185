"""The provider's state and its checks before any costly work: who signed (recovered from the
signature, no chain read), replays, per-user rates, and only then the chain (session, bid).

``ProviderServer`` (``provider_server``) adds the connection handling and the methods on top.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from app.inference.types import ChatEngine
from app.p2p import crypto
from app.p2p.crypto import keccak256
from app.p2p.errors import CryptoError
from app.p2p.gojson import Message
from app.p2p.keys import NodeKey
from app.p2p.ports import BidInfo, SessionInfo, SessionLookup
from app.p2p.provider_guard import ConnectionCounter, NegativeCache, ReplayCache, TokenBuckets
from app.p2p.provider_stream import SessionState, sign_message
from app.p2p.provider_types import ProviderConfig, ProviderEvent, ProviderStats

log = logging.getLogger(__name__)


class Reject(Exception):
    """Answer with a §5.7 plain-text error reply."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Conn:
    """One connection's admission state: its IP and whether it still holds an unauthenticated
    slot (released as soon as its request is authenticated)."""

    def __init__(self, ip: str, writer: asyncio.StreamWriter) -> None:
        self.ip = ip
        self.writer = writer
        self.unauthenticated = False


class ProviderAuth:
    """State shared by the server's handlers, and the checks every signed request passes."""

    def __init__(
        self,
        key: NodeKey,
        lookup: SessionLookup,
        engine: ChatEngine,
        config: ProviderConfig,
        *,
        on_event: Callable[[ProviderEvent], None] | None = None,
        clock: Callable[[], float] = time.time,
        chain_clock: Callable[[], float] | None = None,
        user_keys: dict[str, bytes] | None = None,
    ) -> None:
        self.key = key
        self.lookup = lookup
        self.engine = engine
        self.config = config
        self.limits = limits = config.limits
        self.on_event = on_event
        self.clock = clock
        self.chain_clock = chain_clock or clock
        self.stats = ProviderStats()
        self.provider_address = (config.provider_address or key.address).lower()
        self._server: asyncio.Server | None = None
        # user → public key from their last session.request; preload it across restarts so
        # open sessions keep working (the key is public, a signature still has to match it)
        self._user_keys: OrderedDict[str, bytes] = OrderedDict(
            (u.lower(), k) for u, k in (user_keys or {}).items()
        )
        self._sessions: dict[bytes, SessionState] = {}
        self._bids: dict[bytes, BidInfo] = {}
        self._not_ours = NegativeCache(ttl_s=60.0)
        self._replays = ReplayCache(limits.replay_memory)
        self._ip_rate = TokenBuckets(limits.rate_per_s, limits.rate_burst)
        self._user_rate = TokenBuckets(limits.user_rate_per_s, limits.user_rate_burst)
        self._unauthenticated = ConnectionCounter(limits.max_unauthenticated_per_ip)
        self._open_connections = 0
        self._tasks: set[asyncio.Task[None]] = set()
        try:  # LocalEngine queues fairly per ``client``; pass the user when the engine can use it
            params = inspect.signature(engine.chat_stream).parameters
            self._engine_takes_client = "client" in params
        except (TypeError, ValueError):
            self._engine_takes_client = False

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _contract_ts(self) -> int:
        now = self.chain_clock()
        return int(now * 1000) if self.config.contract_timestamp_unit == "ms" else int(now)

    def _authenticated(self, conn: Conn) -> None:
        if conn.unauthenticated:
            conn.unauthenticated = False
            self._unauthenticated.release(conn.ip)

    # ------------------------------------------------------------ authentication (no chain reads)

    def _sign(self, msg: Message) -> bytes:
        return sign_message(self.key, msg)

    def _check_window(self, timestamp_ms: int) -> None:
        window = self.limits.timestamp_window_ms
        if window is not None and abs(self._now_ms() - timestamp_ms) > window:
            raise Reject("request timestamp out of range")

    def _check_replay(self, signature: bytes, keep_s: float) -> None:
        now = self.clock()
        if self._replays.seen(signature, now):
            raise Reject("replayed request")
        self._replays.remember(signature, now + keep_s, now)

    def _user_allowed(self, user: str, conn: Conn) -> None:
        self._authenticated(conn)
        if not self._user_rate.allow(user, time.monotonic()):
            self.stats.refused_rate += 1
            raise Reject("rate limit exceeded")

    def _recover_user(self, msg: Message, signature: bytes) -> tuple[str, bytes]:
        """The known user whose key signed ``msg``. Go's verifier ignores v, so both recovery
        ids are tried; a stranger costs at most two recoveries and is told "user not found"."""
        if len(signature) != 65:
            raise Reject("invalid signature")
        digest = keccak256(msg.signed_bytes())
        first = signature[64] if signature[64] in (0, 1) else 0
        for v in (first, first ^ 1):
            try:
                public = crypto.recover_pubkey(digest, signature[:64] + bytes([v]))
            except CryptoError:
                raise Reject("invalid signature") from None
            user = crypto.address_from_pubkey(public)
            known = self._user_keys.get(user)
            if known is not None and known == public:
                self._user_keys.move_to_end(user)
                return user, known
        raise Reject("user not found")

    # ------------------------------------------------------------ chain reads (after auth)

    async def _our_bid(self, bid_id: bytes) -> BidInfo | None:
        bid = self._bids.get(bid_id)
        if bid is None:
            now = self.clock()
            if self._not_ours.hit(bid_id, now):
                return None
            self.stats.chain_reads += 1
            bid = await self.lookup.get_bid(bid_id)
            if bid is None or bid.provider.lower() != self.provider_address:
                self._not_ours.add(bid_id, now)
                return None
            self._bids[bid_id] = bid
        return bid

    def _live_sessions(self) -> int:
        now = self.chain_clock()
        keep_s = 7 * 24 * 3600  # receipts are asked for after endsAt; keep stats a week
        for sid in [
            sid
            for sid, s in self._sessions.items()
            if s.info.ends_at + keep_s < now and not s.lock.locked()
        ]:
            del self._sessions[sid]
        return sum(
            1
            for s in self._sessions.values()
            if s.info.closed_at == 0 and s.info.ends_at > now and not s.reported
        )

    async def _authorised_session(
        self, session_id: bytes, msg: Message, signature: bytes, timestamp_ms: int, conn: Conn
    ) -> tuple[SessionInfo, bytes]:
        """All checks shared by session-scoped methods; returns the session and the user's key."""
        self._check_window(timestamp_ms)
        user, user_key = self._recover_user(msg, signature)
        self._check_replay(signature, self.limits.request_replay_ttl_s)
        self._user_allowed(user, conn)
        self.stats.chain_reads += 1
        info = await self.lookup.get_session(session_id)
        if info is None or await self._our_bid(info.bid_id) is None:
            raise Reject("session not found")
        if info.user.lower() != user:
            raise Reject("invalid signature")
        # a replay is refused for as long as the session could still be served
        self._replays.extend(signature, max(float(info.ends_at), self.chain_clock()) + 3600)
        return info, user_key

    def _emit(self, event: ProviderEvent) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception:
            log.exception("provider event hook failed")
