"""The provider node's MOR-RPC server (§5): one request per TCP connection, streamed answers.

Cheap before costly. For every signed request: read a bounded frame (``framing``) → parse →
recover the signer from the signature (CPU only) → the signer must be a user we approved → not a
replay → the user's own rate limit → only then a chain read (session, bid) → session checks →
capacity → per-session queue → inference. A stranger without a valid signature costs one frame
scan and at most two public-key recoveries; no chain read, no approval slot, no inference.

Go parity (§5.8.1): no timestamp window (replays are refused by remembering each accepted
signature until its session ends), no practical size limit, Go's decoding rules, and a reply in
Go's error format whenever we refuse something a Go node would have read.
Stricter than Go, on purpose: ``session.request`` needs the bid to be ours and ``key`` to belong
to ``user``; closed sessions are refused; approvals reserve no capacity (a session counts once it
is open on chain and prompted), so throwaway keys cannot fill the node.

Approval and receipt timestamps are in **seconds** by default (the contract's 10-minute TTL,
§4.4); ``contract_timestamp_unit="ms"`` reproduces the Go node byte for byte. ``clock`` is wall
time, ``chain_clock`` stamps approvals/receipts and judges expiry (a devnet may time-travel).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import socket
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from app.inference.types import ChatEngine
from app.p2p import crypto
from app.p2p.crypto import Approval, EciesRecipient, Receipt, keccak256
from app.p2p.errors import CryptoError, MessageTooLarge, NestingTooDeep, ProtocolError
from app.p2p.extra_messages import UNSUPPORTED_METHODS
from app.p2p.framing import JsonStreamReader, decode_frame, loads_bounded
from app.p2p.gojson import (
    Message,
    PingParams,
    PongResult,
    PromptParams,
    ReportParams,
    ReportResult,
    RpcError,
    SessionRequestParams,
    SessionRequestResult,
    encode_error,
    encode_result,
    parse_bytes32,
    parse_request,
)
from app.p2p.keys import NodeKey
from app.p2p.openai_codec import InvalidInferenceRequest, UnsupportedRequest, parse_chat_request
from app.p2p.ports import BidInfo, SessionInfo, SessionLookup
from app.p2p.provider_guard import ConnectionCounter, NegativeCache, ReplayCache, TokenBuckets
from app.p2p.provider_stream import (
    Served,
    SessionState,
    send_signed_error,
    sign_message,
    stream_answer,
)
from app.p2p.provider_types import (
    ApprovalIssued,
    PromptServed,
    ProviderConfig,
    ProviderEvent,
    ProviderLimits,
    ProviderStats,
    ReceiptIssued,
)

log = logging.getLogger(__name__)
_MAX_KNOWN_USERS = 100_000
NOT_SUPPORTED = "not supported by this provider"


class _Reject(Exception):
    """Answer with a §5.7 plain-text error reply."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Conn:
    """One connection's admission state: its IP and whether it still holds an unauthenticated
    slot (released as soon as its request is authenticated)."""

    def __init__(self, ip: str, writer: asyncio.StreamWriter) -> None:
        self.ip = ip
        self.writer = writer
        self.unauthenticated = False


class ProviderServer:
    """Serves MOR-RPC for one provider key. ``async with`` starts and stops it."""

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

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> tuple[str, int]:
        self._server = await asyncio.start_server(
            self._on_connection, self.config.host, self.config.port, limit=1 << 16
        )
        host, port = self._server.sockets[0].getsockname()[:2]
        log.info("MOR-RPC provider listening on %s:%s as %s", host, port, self.key.address)
        return host, port

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def endpoint(self) -> str:
        return f"{self.config.host}:{self.port}"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> ProviderServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------ connection handling

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _contract_ts(self) -> int:
        now = self.chain_clock()
        return int(now * 1000) if self.config.contract_timestamp_unit == "ms" else int(now)

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._open_connections += 1
        self.stats.connections += 1
        peer = writer.get_extra_info("peername")
        conn = _Conn(str(peer[0]) if peer else "?", writer)
        try:
            with contextlib.suppress(Exception):
                sock = writer.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await self._serve_one(reader, conn)
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # server shutting down; this is the task's top level, nothing above to tell
        except Exception:
            log.exception("MOR-RPC connection failed")
        finally:
            self._authenticated(conn)
            self._open_connections -= 1
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    def _authenticated(self, conn: _Conn) -> None:
        if conn.unauthenticated:
            conn.unauthenticated = False
            self._unauthenticated.release(conn.ip)

    async def _write(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        async with asyncio.timeout(self.limits.write_timeout_s):
            await writer.drain()

    async def _linger(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Half-close and discard what the peer already sent (bounded), so closing does not
        reset the connection before the peer has read our reply."""
        with contextlib.suppress(Exception):
            writer.write_eof()
            async with asyncio.timeout(1.0):
                for _ in range(16):
                    if not await reader.read(65536):
                        break

    async def _reply_error(
        self, writer: asyncio.StreamWriter, request_id: str, message: str
    ) -> None:
        self.stats.error_replies += 1
        err = RpcError(message=message, timestamp=self._now_ms())
        await self._write(writer, encode_error(request_id, err))

    async def _serve_one(self, reader: asyncio.StreamReader, conn: _Conn) -> None:
        writer, limits = conn.writer, self.limits
        if self._open_connections > limits.max_connections or not (
            self._unauthenticated.try_acquire(conn.ip)
        ):
            self.stats.refused_busy += 1
            return
        conn.unauthenticated = True
        if not self._ip_rate.allow(conn.ip, time.monotonic()):
            self.stats.refused_rate += 1
            await self._reply_error(writer, "", "rate limit exceeded")
            await self._linger(reader, writer)
            return
        framed = JsonStreamReader(
            reader,
            max_message_bytes=limits.max_message_bytes,
            read_timeout=limits.read_timeout_s,
            idle_timeout=limits.idle_timeout_s,
            max_depth=limits.max_depth,
        )
        try:
            raw, escapes = await framed.read_frame()
        except (MessageTooLarge, NestingTooDeep) as exc:
            # A Go node would have read it: say why we do not, in Go's error format.
            self.stats.dropped_bad_input += 1
            await self._reply_error(writer, "", f"request refused: {exc.reason}")
            await self._linger(reader, writer)
            return
        except (ProtocolError, EOFError) as exc:
            # Go closes without a reply when the envelope does not decode; so do we.
            self.stats.dropped_bad_input += 1
            log.debug("dropping %s: %s", conn.ip, exc)
            return
        try:
            request = parse_request(decode_frame(raw, escapes=escapes))
        except ProtocolError as exc:
            self.stats.dropped_bad_input += 1
            log.debug("dropping %s: %s", conn.ip, exc)
            return
        try:
            await self._dispatch(request.id, request.method, request.params, conn)
        except _Reject as rej:
            await self._reply_error(writer, request.id, rej.message)
        except ProtocolError as exc:
            await self._reply_error(writer, request.id, f"invalid request: {exc.reason}")

    async def _dispatch(self, request_id: str, method: str, params: Any, conn: _Conn) -> None:
        writer = conn.writer
        if method == "network.ping":
            await self._write(writer, encode_result(request_id, self._ping(params)))
        elif method == "session.request":
            result = await self._session_request(params, conn)
            await self._write(writer, encode_result(request_id, result))
        elif method == "session.prompt":
            await self._session_prompt(request_id, params, conn)
        elif method == "session.report":
            result_r = await self._session_report(params, conn)
            await self._write(writer, encode_result(request_id, result_r))
        elif method in UNSUPPORTED_METHODS:
            await self._refuse_method(request_id, method, params, conn)
        else:
            raise _Reject(f"unknown method: unknown method: {method}")

    # ------------------------------------------------------------ authentication (no chain reads)

    def _sign(self, msg: Message) -> bytes:
        return sign_message(self.key, msg)

    def _check_window(self, timestamp_ms: int) -> None:
        window = self.limits.timestamp_window_ms
        if window is not None and abs(self._now_ms() - timestamp_ms) > window:
            raise _Reject("request timestamp out of range")

    def _check_replay(self, signature: bytes, keep_s: float) -> None:
        now = self.clock()
        if self._replays.seen(signature, now):
            raise _Reject("replayed request")
        self._replays.remember(signature, now + keep_s, now)

    def _user_allowed(self, user: str, conn: _Conn) -> None:
        self._authenticated(conn)
        if not self._user_rate.allow(user, time.monotonic()):
            self.stats.refused_rate += 1
            raise _Reject("rate limit exceeded")

    def _recover_user(self, msg: Message, signature: bytes) -> tuple[str, bytes]:
        """The known user whose key signed ``msg``. Go's verifier ignores v, so both recovery
        ids are tried; a stranger costs at most two recoveries and is told "user not found"."""
        if len(signature) != 65:
            raise _Reject("invalid signature")
        digest = keccak256(msg.signed_bytes())
        first = signature[64] if signature[64] in (0, 1) else 0
        for v in (first, first ^ 1):
            try:
                public = crypto.recover_pubkey(digest, signature[:64] + bytes([v]))
            except CryptoError:
                raise _Reject("invalid signature") from None
            user = crypto.address_from_pubkey(public)
            known = self._user_keys.get(user)
            if known is not None and known == public:
                self._user_keys.move_to_end(user)
                return user, known
        raise _Reject("user not found")

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
        self, session_id: bytes, msg: Message, signature: bytes, timestamp_ms: int, conn: _Conn
    ) -> tuple[SessionInfo, bytes]:
        """All checks shared by session-scoped methods; returns the session and the user's key."""
        self._check_window(timestamp_ms)
        user, user_key = self._recover_user(msg, signature)
        self._check_replay(signature, self.limits.request_replay_ttl_s)
        self._user_allowed(user, conn)
        self.stats.chain_reads += 1
        info = await self.lookup.get_session(session_id)
        if info is None or await self._our_bid(info.bid_id) is None:
            raise _Reject("session not found")
        if info.user.lower() != user:
            raise _Reject("invalid signature")
        # a replay is refused for as long as the session could still be served
        self._replays.extend(signature, max(float(info.ends_at), self.chain_clock()) + 3600)
        return info, user_key

    # ------------------------------------------------------------ methods

    def _ping(self, params: Any) -> PongResult:
        ping = PingParams.parse(params)
        pong = PongResult(nonce=ping.nonce, version=self.config.version)
        return PongResult(pong.nonce, pong.version, self._sign(pong))

    async def _session_request(self, params: Any, conn: _Conn) -> SessionRequestResult:
        req = SessionRequestParams.parse(params)
        self._check_window(req.timestamp)
        if len(req.key) != 65 or req.key[0] != 4:
            raise _Reject("key must be an uncompressed public key")
        try:
            key_owner = crypto.address_from_pubkey(req.key)
        except ValueError:
            raise _Reject("key is not a valid public key") from None
        if not crypto.verify_hash(req.key, keccak256(req.signed_bytes()), req.signature):
            raise _Reject("invalid signature")
        if key_owner != req.user:
            raise _Reject("key does not belong to user")
        self._check_replay(req.signature, self.limits.request_replay_ttl_s)
        self._user_allowed(req.user, conn)
        bid = await self._our_bid(req.bid_id)
        if bid is None:
            raise _Reject("bid not found")
        if bid.deleted_at:
            raise _Reject("bid is not active")
        if self._live_sessions() >= self.limits.max_sessions and not any(
            s.info.user == req.user and not s.reported for s in self._sessions.values()
        ):
            raise _Reject("no capacity")
        approval = Approval(
            req.bid_id, self.config.chain_id, req.user, self._contract_ts()
        ).encode()
        approval_sig = self.key.sign_message_hash(keccak256(approval))
        self._user_keys.pop(req.user, None)
        self._user_keys[req.user] = req.key
        while len(self._user_keys) > _MAX_KNOWN_USERS:
            self._user_keys.popitem(last=False)  # forgotten users re-request (the client does)
        self._emit(ApprovalIssued(req.user, req.bid_id, approval, approval_sig, req.key))
        result = SessionRequestResult(
            provider_key=self.key.public_key_uncompressed,
            approval=approval,
            approval_sig=approval_sig,
            user=req.user,
            timestamp=self._now_ms(),
        )
        return SessionRequestResult(
            result.provider_key,
            result.approval,
            result.approval_sig,
            result.user,
            result.timestamp,
            self._sign(result),
        )

    async def _session_prompt(self, request_id: str, params: Any, conn: _Conn) -> None:
        req = PromptParams.parse(params)
        info, user_key = await self._authorised_session(
            req.session_id, req, req.signature, req.timestamp, conn
        )
        if info.closed_at or not info.is_active:
            raise _Reject("session closed")
        if info.ends_at * 1000 < req.timestamp or info.ends_at <= self.chain_clock():
            raise _Reject("session expired")
        recipient = EciesRecipient(user_key, reuse_ephemeral=True)  # one R per answer
        try:
            chat, stream = parse_chat_request(
                loads_bounded(req.message, max_depth=self.limits.max_depth),
                model=self.config.model_name,
                max_tokens_cap=self.limits.max_tokens,
            )
        except UnsupportedRequest as exc:
            await self._signed_refusal(conn, request_id, recipient, str(exc))
            return
        except (InvalidInferenceRequest, ProtocolError) as exc:
            reason = exc.reason if isinstance(exc, ProtocolError) else str(exc)
            raise _Reject(f"invalid inference request: {reason}") from None
        state = self._sessions.get(req.session_id)
        if state is None:
            if self._live_sessions() >= self.limits.max_sessions:
                raise _Reject("no capacity")
            state = SessionState(info)
            self._sessions[req.session_id] = state
        if state.waiting >= self.limits.max_queued_per_session:
            raise _Reject("too many requests for this session")
        state.info = info
        state.reported = False
        state.waiting += 1
        try:
            await state.lock.acquire()
        finally:
            state.waiting -= 1
        try:
            self.stats.inferences += 1
            await stream_answer(
                self.key,
                self.engine,
                chat,
                stream,
                request_id=request_id,
                recipient=recipient,
                model_name=self.config.model_name,
                write=lambda data: self._write(conn.writer, data),
                now_ms=self._now_ms,
                client=state.info.user if self._engine_takes_client else None,
                record=lambda served: self._record(state, served),
            )
        finally:
            state.lock.release()

    def _record(self, state: SessionState, served: Served) -> None:
        state.ttfts.append(served.ttft_ms)
        state.tps.append(served.tps_scaled1000)
        state.input_tokens += served.prompt_tokens
        state.output_tokens += served.completion_tokens
        info = state.info
        self._emit(
            PromptServed(
                info.session_id,
                info.user.lower(),
                info.bid_id,
                served.prompt_tokens,
                served.completion_tokens,
                served.ttft_ms,
                served.tps_scaled1000,
                served.completed,
            )
        )

    async def _signed_refusal(
        self, conn: _Conn, request_id: str, recipient: EciesRecipient, message: str
    ) -> None:
        self.stats.error_replies += 1
        await send_signed_error(
            self.key,
            lambda data: self._write(conn.writer, data),
            request_id,
            recipient,
            message,
            "not_supported",
            self._now_ms(),
        )

    async def _refuse_method(self, request_id: str, method: str, params: Any, conn: _Conn) -> None:
        """Agent tools and audio upload: authenticated like a prompt, then a signed refusal."""
        req = UNSUPPORTED_METHODS[method].parse(params)
        _, user_key = await self._authorised_session(
            req.session_id, req, req.signature, req.timestamp, conn
        )
        recipient = EciesRecipient(user_key)
        await self._signed_refusal(conn, request_id, recipient, f"{method} is {NOT_SUPPORTED}")

    async def _session_report(self, params: Any, conn: _Conn) -> ReportResult:
        req = ReportParams.parse(params)
        try:
            session_id = parse_bytes32(req.message, "message")
        except ProtocolError:
            raise _Reject("session not found") from None
        info, _ = await self._authorised_session(
            session_id, req, req.signature, req.timestamp, conn
        )
        state = self._sessions.get(session_id) or SessionState(info)
        state.reported = True
        n = len(state.tps)
        receipt = Receipt(
            session_id=session_id,
            chain_id=self.config.chain_id,
            timestamp=self._contract_ts(),
            tps_scaled1000=sum(state.tps) // n if n else 0,
            ttft_ms=sum(state.ttfts) // n if n else 0,
            input_tokens=min(state.input_tokens, crypto.UINT32_MAX),
            output_tokens=min(state.output_tokens, crypto.UINT32_MAX),
        )
        encoded = receipt.encode()
        signed_report = self.key.sign_message_hash(keccak256(encoded))
        self._emit(
            ReceiptIssued(session_id, info.user.lower(), info.bid_id, receipt, signed_report)
        )
        result = ReportResult(
            receipt=encoded, signed_report=signed_report, timestamp=self._now_ms()
        )
        return ReportResult(
            result.receipt, result.signed_report, result.timestamp, self._sign(result)
        )

    def _emit(self, event: ProviderEvent) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception:
            log.exception("provider event hook failed")


__all__ = [
    "ApprovalIssued",
    "PromptServed",
    "ProviderConfig",
    "ProviderEvent",
    "ProviderLimits",
    "ProviderServer",
    "ProviderStats",
    "ReceiptIssued",
]
