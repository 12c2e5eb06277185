"""The provider node's MOR-RPC server (§5): one request per TCP connection, streamed answers.

Order of checks for ``session.prompt`` (nothing reaches the engine before all of them pass):
parse → timestamp window → session exists on chain → its bid is ours → the user's key is known →
signature → not a replay → not closed → not expired → inference request valid → capacity →
per-session lock → inference.

Stricter than the Go node, on purpose:
- ``session.request`` needs the bid to be ours and the ``key`` to belong to ``user`` (otherwise
  anyone could replace a paying user's key and spend their session), and a fresh timestamp.
- Every signed request must be within ``timestamp_window_ms`` of our clock and is accepted once.
- Closed sessions are refused, not served until ``endsAt``.

Approval and receipt timestamps are in **seconds** by default, which turns on the contract's
10-minute TTL (§4.4); ``contract_timestamp_unit="ms"`` reproduces the Go node byte for byte.
Two injectable clocks: ``clock`` (wall time: request freshness, replays) and ``chain_clock``
(approval/receipt timestamps and session expiry), so a devnet with time travel can pass chain time.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from app.inference.types import (
    ChatEngine,
    CompletionDone,
    CompletionMetrics,
    InferenceError,
    TokenDelta,
)
from app.p2p import crypto
from app.p2p.crypto import Approval, EciesRecipient, Receipt, keccak256
from app.p2p.errors import ProtocolError
from app.p2p.framing import JsonStreamReader
from app.p2p.gojson import (
    Message,
    PingParams,
    PongResult,
    PromptChunk,
    PromptParams,
    ReportParams,
    ReportResult,
    RpcError,
    SessionRequestParams,
    SessionRequestResult,
    encode_error,
    encode_result,
    go_json_bytes,
    parse_bytes32,
    parse_request,
)
from app.p2p.keys import NodeKey
from app.p2p.openai_codec import DONE, ChunkBuilder, parse_chat_request
from app.p2p.ports import BidInfo, SessionInfo, SessionLookup

log = logging.getLogger(__name__)

_STAT_CAP = 10_000_000  # keeps LibSD's int64 products far from overflow (§3.14)


@dataclass(frozen=True)
class ProviderLimits:
    max_message_bytes: int = 1 << 20
    read_timeout_s: float = 30.0  # a whole request must arrive within this
    idle_timeout_s: float = 10.0  # longest silence between two reads
    write_timeout_s: float = 30.0  # a client that stops reading is dropped
    max_connections: int = 64
    max_sessions: int = 8  # open sessions plus approvals not yet used
    rate_per_s: float = 10.0  # requests per second per IP, sustained
    rate_burst: int = 30
    timestamp_window_ms: int = 5 * 60 * 1000
    approval_ttl_s: int = 600
    max_tokens: int = 1024  # cap on one answer's length


@dataclass(frozen=True)
class ProviderConfig:
    chain_id: int
    model_name: str = "local"
    version: str = "morpheus-desktop/0.1.0"
    host: str = "127.0.0.1"
    port: int = 0
    contract_timestamp_unit: Literal["s", "ms"] = "s"
    limits: ProviderLimits = field(default_factory=ProviderLimits)


# ---------------------------------------------------------------- events for the session ledger


@dataclass(frozen=True)
class ApprovalIssued:
    user: str
    bid_id: bytes
    approval: bytes
    approval_sig: bytes
    user_key: bytes = b""  # persist it and pass it back as ``user_keys`` after a restart


@dataclass(frozen=True)
class PromptServed:
    session_id: bytes
    user: str
    bid_id: bytes
    prompt_tokens: int
    completion_tokens: int
    ttft_ms: int
    tps_scaled1000: int
    completed: bool  # False when the client left or the engine failed


@dataclass(frozen=True)
class ReceiptIssued:
    session_id: bytes
    user: str
    bid_id: bytes
    receipt: Receipt
    signature: bytes


ProviderEvent = ApprovalIssued | PromptServed | ReceiptIssued


@dataclass
class ProviderStats:
    connections: int = 0
    refused_busy: int = 0
    refused_rate: int = 0
    dropped_bad_input: int = 0
    error_replies: int = 0
    inferences: int = 0


class _Reject(Exception):
    """Answer with a §5.7 plain-text error reply."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class _SessionState:
    info: SessionInfo
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    ttfts: list[int] = field(default_factory=list)
    tps: list[int] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    reported: bool = False  # a receipt was issued: the consumer is closing it


class _TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, ip: str, now: float) -> bool:
        tokens, last = self._buckets.get(ip, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if len(self._buckets) > 10_000:
            self._buckets.clear()
        if tokens < 1.0:
            self._buckets[ip] = (tokens, now)
            return False
        self._buckets[ip] = (tokens - 1.0, now)
        return True


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
        self.limits = config.limits
        self.on_event = on_event
        self.clock = clock
        self.chain_clock = chain_clock or clock
        self.stats = ProviderStats()
        self._server: asyncio.Server | None = None
        # user → public key from their last session.request; preload it across restarts so
        # open sessions keep working (the key is public, a signature still has to match it)
        self._user_keys: dict[str, bytes] = {u.lower(): k for u, k in (user_keys or {}).items()}
        self._sessions: dict[bytes, _SessionState] = {}
        self._pending: dict[tuple[str, bytes], float] = {}  # (user, bid) → approval time (s)
        self._seen: dict[bytes, float] = {}  # r‖s of accepted signatures → forget-after (s)
        self._bids: dict[bytes, BidInfo] = {}
        self._rate = _TokenBucket(self.limits.rate_per_s, self.limits.rate_burst)
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
        try:
            with contextlib.suppress(Exception):
                sock = writer.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await self._serve_one(reader, writer)
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            pass  # server shutting down; this is the task's top level, nothing above to tell
        except Exception:
            log.exception("MOR-RPC connection failed")
        finally:
            self._open_connections -= 1
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

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

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        ip = str(peer[0]) if peer else "?"
        if self._open_connections > self.limits.max_connections:
            self.stats.refused_busy += 1
            return
        if not self._rate.allow(ip, time.monotonic()):
            self.stats.refused_rate += 1
            await self._reply_error(writer, "", "rate limit exceeded")
            await self._linger(reader, writer)
            return
        framed = JsonStreamReader(
            reader,
            max_message_bytes=self.limits.max_message_bytes,
            read_timeout=self.limits.read_timeout_s,
            idle_timeout=self.limits.idle_timeout_s,
        )
        try:
            request = parse_request(await framed.read_value())
        except (ProtocolError, EOFError) as exc:
            # Go closes without a reply when the envelope does not decode; so do we.
            self.stats.dropped_bad_input += 1
            log.debug("dropping %s: %s", ip, exc)
            return
        try:
            await self._dispatch(request.id, request.method, request.params, writer)
        except _Reject as rej:
            await self._reply_error(writer, request.id, rej.message)
        except ProtocolError as exc:
            await self._reply_error(writer, request.id, f"invalid request: {exc.reason}")

    async def _dispatch(
        self, request_id: str, method: str, params: Any, writer: asyncio.StreamWriter
    ) -> None:
        if method == "network.ping":
            await self._write(writer, encode_result(request_id, self._ping(params)))
        elif method == "session.request":
            result = await self._session_request(params)
            await self._write(writer, encode_result(request_id, result))
        elif method == "session.prompt":
            await self._session_prompt(request_id, params, writer)
        elif method == "session.report":
            result_r = await self._session_report(params)
            await self._write(writer, encode_result(request_id, result_r))
        else:
            raise _Reject(f"unknown method: unknown method: {method}")

    # ------------------------------------------------------------ shared checks

    def _sign(self, msg: Message) -> bytes:
        return self.key.sign_raw_hash(keccak256(msg.signed_bytes()))

    def _check_window(self, timestamp_ms: int) -> None:
        if abs(self._now_ms() - timestamp_ms) > self.limits.timestamp_window_ms:
            raise _Reject("request timestamp out of range")

    def _check_signature(self, msg: Message, signature: bytes, public_key: bytes) -> None:
        if not crypto.verify_hash(public_key, keccak256(msg.signed_bytes()), signature):
            raise _Reject("invalid signature")

    def _check_replay(self, signature: bytes) -> None:
        now = self.clock()
        marker = signature[:64]  # r‖s only: v is ignored by verification, so it must not count
        if marker in self._seen:
            raise _Reject("replayed request")
        if len(self._seen) > 50_000:
            self._seen = {k: t for k, t in self._seen.items() if t > now}
        self._seen[marker] = now + 2 * self.limits.timestamp_window_ms / 1000

    async def _our_bid(self, bid_id: bytes) -> BidInfo | None:
        bid = self._bids.get(bid_id)
        if bid is None:
            bid = await self.lookup.get_bid(bid_id)
            if bid is None:
                return None
            self._bids[bid_id] = bid
        return bid if bid.provider.lower() == self.key.address else None

    def _live_sessions(self) -> int:
        now = self.chain_clock()
        self._pending = {
            k: t for k, t in self._pending.items() if now - t <= self.limits.approval_ttl_s
        }
        keep_s = 7 * 24 * 3600  # receipts are asked for after endsAt; keep stats a week
        for sid in [
            sid
            for sid, s in self._sessions.items()
            if s.info.ends_at + keep_s < now and not s.lock.locked()
        ]:
            del self._sessions[sid]
        live = sum(
            1
            for s in self._sessions.values()
            if s.info.closed_at == 0 and s.info.ends_at > now and not s.reported
        )
        return live + len(self._pending)

    # ------------------------------------------------------------ methods

    def _ping(self, params: Any) -> PongResult:
        ping = PingParams.parse(params)
        pong = PongResult(nonce=ping.nonce, version=self.config.version)
        return PongResult(pong.nonce, pong.version, self._sign(pong))

    async def _session_request(self, params: Any) -> SessionRequestResult:
        req = SessionRequestParams.parse(params)
        self._check_window(req.timestamp)
        if len(req.key) != 65 or req.key[0] != 4:
            raise _Reject("key must be an uncompressed public key")
        try:
            key_owner = crypto.address_from_pubkey(req.key)
        except ValueError:
            raise _Reject("key is not a valid public key") from None
        self._check_signature(req, req.signature, req.key)
        if key_owner != req.user:
            raise _Reject("key does not belong to user")
        self._check_replay(req.signature)
        bid = await self._our_bid(req.bid_id)
        if bid is None:
            raise _Reject("bid not found")
        if bid.deleted_at:
            raise _Reject("bid is not active")
        if (req.user, req.bid_id) not in self._pending and (
            self._live_sessions() >= self.limits.max_sessions
        ):
            raise _Reject("no capacity")
        approval = Approval(
            req.bid_id, self.config.chain_id, req.user, self._contract_ts()
        ).encode()
        approval_sig = self.key.sign_message_hash(keccak256(approval))
        self._user_keys[req.user] = req.key
        self._pending[(req.user, req.bid_id)] = self.chain_clock()
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

    async def _authorised_session(
        self, session_id: bytes, msg: Message, signature: bytes, timestamp_ms: int
    ) -> tuple[SessionInfo, bytes]:
        """All checks shared by prompt and report; returns the session and the user's key."""
        self._check_window(timestamp_ms)
        info = await self.lookup.get_session(session_id)
        if info is None:
            raise _Reject("session not found")
        if await self._our_bid(info.bid_id) is None:
            raise _Reject("session not found")
        user = info.user.lower()
        user_key = self._user_keys.get(user)
        if user_key is None:
            raise _Reject("user not found")
        self._check_signature(msg, signature, user_key)
        self._check_replay(signature)
        return info, user_key

    async def _session_prompt(
        self, request_id: str, params: Any, writer: asyncio.StreamWriter
    ) -> None:
        req = PromptParams.parse(params)
        info, user_key = await self._authorised_session(
            req.session_id, req, req.signature, req.timestamp
        )
        if info.closed_at or not info.is_active:
            raise _Reject("session closed")
        if info.ends_at * 1000 < req.timestamp or info.ends_at <= self.chain_clock():
            raise _Reject("session expired")
        try:
            chat, stream = parse_chat_request(
                json.loads(req.message),
                model=self.config.model_name,
                max_tokens_cap=self.limits.max_tokens,
            )
        except (ValueError, RecursionError) as exc:
            raise _Reject(f"invalid inference request: {exc}") from None
        state = self._sessions.get(req.session_id)
        if state is None:
            pending = (info.user.lower(), info.bid_id)
            if pending in self._pending:
                del self._pending[pending]
            elif self._live_sessions() >= self.limits.max_sessions:
                raise _Reject("no capacity")
            state = _SessionState(info)
            self._sessions[req.session_id] = state
        state.info = info
        state.reported = False
        async with state.lock:
            await self._stream(request_id, state, user_key, chat, stream, writer)

    async def _stream(
        self,
        request_id: str,
        state: _SessionState,
        user_key: bytes,
        chat: Any,
        stream: bool,
        writer: asyncio.StreamWriter,
    ) -> None:
        recipient = EciesRecipient(user_key, reuse_ephemeral=True)  # one R per answer
        builder = ChunkBuilder("chatcmpl-" + os.urandom(12).hex(), self.config.model_name)

        async def send(payload: Any) -> None:
            ct = recipient.encrypt(go_json_bytes(payload, sort_keys=True))
            chunk = PromptChunk(message=ct.hex(), timestamp=self._now_ms())
            signed = PromptChunk(chunk.message, chunk.timestamp, self._sign(chunk))
            await self._write(writer, encode_result(request_id, signed))

        self.stats.inferences += 1
        start = time.monotonic()
        first: float | None = None
        pieces: list[str] = []
        metrics: CompletionMetrics | None = None
        completed = False
        try:
            if self._engine_takes_client:
                gen = self.engine.chat_stream(chat, client=state.info.user)  # type: ignore[call-arg]
            else:
                gen = self.engine.chat_stream(chat)
            try:
                async for event in gen:
                    if isinstance(event, TokenDelta):
                        if first is None:
                            first = time.monotonic()
                        pieces.append(event.text)
                        if stream:
                            await send(builder.delta(event.text))
                    elif isinstance(event, CompletionDone):
                        metrics = event.metrics
            finally:
                aclose = getattr(gen, "aclose", None)
                if aclose is not None:
                    await aclose()
            if metrics is None:
                metrics = CompletionMetrics(0, len(pieces), 0.0, 0.0, "stop")
            if stream:
                await send(builder.final(metrics))
                await send(DONE)
            else:
                await send(builder.full("".join(pieces), metrics))
            completed = True
        except InferenceError as exc:
            await self._send_backend_error(request_id, recipient, exc, writer)
        finally:
            end = time.monotonic()
            out_tokens = metrics.completion_tokens if metrics else len(pieces)
            in_tokens = metrics.prompt_tokens if metrics else 0
            ttft_ms = min(_STAT_CAP, int(((first or end) - start) * 1000))
            tps = min(_STAT_CAP, int(out_tokens * 1000 / max(end - start, 1e-3)))
            state.ttfts.append(ttft_ms)
            state.tps.append(tps)
            state.input_tokens += in_tokens
            state.output_tokens += out_tokens
            self._emit(
                PromptServed(
                    state.info.session_id,
                    state.info.user.lower(),
                    state.info.bid_id,
                    in_tokens,
                    out_tokens,
                    ttft_ms,
                    tps,
                    completed,
                )
            )

    async def _send_backend_error(
        self,
        request_id: str,
        recipient: EciesRecipient,
        exc: InferenceError,
        writer: asyncio.StreamWriter,
    ) -> None:
        """§5.7 form 2: the backend's error, encrypted to the user and signed."""
        payload = {
            "providerModelError": {"error": {"message": exc.message, "type": "upstream_error"}}
        }
        ct = recipient.encrypt(go_json_bytes(payload)).hex()
        err = RpcError(message=ct, timestamp=self._now_ms(), signature=b"")
        sig = self.key.sign_raw_hash(keccak256(err.signed_bytes()))
        self.stats.error_replies += 1
        await self._write(
            writer, encode_error(request_id, RpcError(ct, err.timestamp, signature=sig))
        )

    async def _session_report(self, params: Any) -> ReportResult:
        req = ReportParams.parse(params)
        try:
            session_id = parse_bytes32(req.message, "message")
        except ProtocolError:
            raise _Reject("session not found") from None
        info, _ = await self._authorised_session(session_id, req, req.signature, req.timestamp)
        state = self._sessions.get(session_id) or _SessionState(info)
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
    "ReceiptIssued",
]
