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
import logging
import socket
import time
from typing import Any

from app.p2p import crypto
from app.p2p.crypto import Approval, EciesRecipient, Receipt, keccak256
from app.p2p.errors import MessageTooLarge, NestingTooDeep, ProtocolError
from app.p2p.extra_messages import UNSUPPORTED_METHODS
from app.p2p.framing import JsonStreamReader, decode_frame, loads_bounded
from app.p2p.gojson import (
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
from app.p2p.openai_codec import InvalidInferenceRequest, UnsupportedRequest, parse_chat_request
from app.p2p.provider_auth import Conn, ProviderAuth, Reject
from app.p2p.provider_embeddings import answer_embeddings, embeddings_texts
from app.p2p.provider_stream import (
    Served,
    SessionState,
    send_signed_error,
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
    SessionFailed,
)

log = logging.getLogger(__name__)
_DRAIN_ABOVE = 64 * 1024
_MAX_KNOWN_USERS = 100_000
NOT_SUPPORTED = "not supported by this provider"


class ProviderServer(ProviderAuth):
    """Serves MOR-RPC for one provider key. ``async with`` starts and stops it."""

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

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._open_connections += 1
        self.stats.connections += 1
        peer = writer.get_extra_info("peername")
        conn = Conn(str(peer[0]) if peer else "?", writer)
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

    async def _write(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        if writer.transport.get_write_buffer_size() > _DRAIN_ABOVE or writer.is_closing():
            # only a reader that fell behind costs a timer (this runs once per token)
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

    async def _serve_one(self, reader: asyncio.StreamReader, conn: Conn) -> None:
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
        finally:
            framed.close()  # one request per connection: its idle timer has done its job
        try:
            request = parse_request(decode_frame(raw, escapes=escapes))
        except ProtocolError as exc:
            self.stats.dropped_bad_input += 1
            log.debug("dropping %s: %s", conn.ip, exc)
            return
        try:
            await self._dispatch(request.id, request.method, request.params, conn)
        except Reject as rej:
            await self._reply_error(writer, request.id, rej.message)
        except ProtocolError as exc:
            await self._reply_error(writer, request.id, f"invalid request: {exc.reason}")

    async def _dispatch(self, request_id: str, method: str, params: Any, conn: Conn) -> None:
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
            raise Reject(f"unknown method: unknown method: {method}")

    # ------------------------------------------------------------ methods

    def _ping(self, params: Any) -> PongResult:
        ping = PingParams.parse(params)
        pong = PongResult(nonce=ping.nonce, version=self.config.version)
        return PongResult(pong.nonce, pong.version, self._sign(pong))

    async def _session_request(self, params: Any, conn: Conn) -> SessionRequestResult:
        req = SessionRequestParams.parse(params)
        self._check_window(req.timestamp)
        if len(req.key) != 65 or req.key[0] != 4:
            raise Reject("key must be an uncompressed public key")
        try:
            key_owner = crypto.address_from_pubkey(req.key)
        except ValueError:
            raise Reject("key is not a valid public key") from None
        if not crypto.verify_hash(req.key, keccak256(req.signed_bytes()), req.signature):
            raise Reject("invalid signature")
        if key_owner != req.user:
            raise Reject("key does not belong to user")
        self._check_replay(req.signature, self.limits.request_replay_ttl_s)
        self._user_allowed(req.user, conn)
        bid = await self._our_bid(req.bid_id)
        if bid is None:
            raise Reject("bid not found")
        if bid.deleted_at:
            raise Reject("bid is not active")
        if self._live_sessions() >= self.limits.max_sessions and not any(
            s.info.user == req.user and not s.reported for s in self._sessions.values()
        ):
            raise Reject("no capacity")
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

    async def _session_prompt(self, request_id: str, params: Any, conn: Conn) -> None:
        req = PromptParams.parse(params)
        info, user_key = await self._authorised_session(
            req.session_id, req, req.signature, req.timestamp, conn
        )
        if info.closed_at or not info.is_active:
            raise Reject("session closed")
        if info.ends_at * 1000 < req.timestamp or info.ends_at <= self.chain_clock():
            raise Reject("session expired")
        recipient = EciesRecipient(user_key, reuse_ephemeral=True)  # one R per answer
        try:
            obj = loads_bounded(req.message, max_depth=self.limits.max_depth)
            texts = embeddings_texts(obj, self.engine)  # None: a chat request
            if texts is None:
                chat, stream = parse_chat_request(
                    obj, model=self.config.model_name, max_tokens_cap=self.limits.max_tokens
                )
        except UnsupportedRequest as exc:
            await self._signed_refusal(conn, request_id, recipient, str(exc))
            return
        except (InvalidInferenceRequest, ProtocolError) as exc:
            reason = exc.reason if isinstance(exc, ProtocolError) else str(exc)
            raise Reject(f"invalid inference request: {reason}") from None
        state = self._sessions.get(req.session_id)
        if state is None:
            if self._live_sessions() >= self.limits.max_sessions:
                raise Reject("no capacity")
            state = SessionState(info)
            self._sessions[req.session_id] = state
        if state.waiting >= self.limits.max_queued_per_session:
            raise Reject("too many requests for this session")
        state.info = info
        state.reported = False
        state.waiting += 1
        try:
            await state.lock.acquire()
        finally:
            state.waiting -= 1
        try:
            self.stats.inferences += 1
            if texts is not None:
                await answer_embeddings(
                    self.key,
                    self.engine,  # type: ignore[arg-type]  # embeddings_texts checked it
                    texts,
                    request_id=request_id,
                    recipient=recipient,
                    model_name=self.config.model_name,
                    write=lambda data: self._write(conn.writer, data),
                    now_ms=self._now_ms,
                    monotonic=time.monotonic,
                    record=lambda served: self._record(state, served),
                )
                return
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
                write_now=conn.writer.write,
                interval_s=self.config.stream_interval_ms / 1000,
            )
        finally:
            state.lock.release()

    def _record(self, state: SessionState, served: Served) -> None:
        # Like the reference node, only answers actually given count in the receipt's speed.
        if served.failed:
            state.failed_prompts += 1
            state.last_failed = True
        else:
            state.ttfts.append(served.ttft_ms)
            state.tps.append(served.tps_scaled1000)
            state.last_failed = state.last_failed and not served.completed
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
        self, conn: Conn, request_id: str, recipient: EciesRecipient, message: str
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

    async def _refuse_method(self, request_id: str, method: str, params: Any, conn: Conn) -> None:
        """Agent tools and audio upload: authenticated like a prompt, then a signed refusal."""
        req = UNSUPPORTED_METHODS[method].parse(params)
        _, user_key = await self._authorised_session(
            req.session_id, req, req.signature, req.timestamp, conn
        )
        recipient = EciesRecipient(user_key)
        await self._signed_refusal(conn, request_id, recipient, f"{method} is {NOT_SUPPORTED}")

    async def _session_report(self, params: Any, conn: Conn) -> ReportResult:
        req = ReportParams.parse(params)
        try:
            session_id = parse_bytes32(req.message, "message")
        except ProtocolError:
            raise Reject("session not found") from None
        info, _ = await self._authorised_session(
            session_id, req, req.signature, req.timestamp, conn
        )
        state = self._sessions.get(session_id) or SessionState(info)
        if state.last_failed:
            # An honest receipt cannot say "served": refuse to sign one. The consumer then closes
            # with its own signature, which the contract records as a dispute (closeoutType 1,
            # spec §4.2), exactly as when a Go provider cannot answer the report.
            self._emit(SessionFailed(session_id, info.user.lower(), info.bid_id,
                                     state.failed_prompts))
            raise Reject("session failed: the model could not answer its last request, so the "
                         "provider does not sign a receipt of service; close it with your own "
                         "(recorded as disputed)")
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


__all__ = [
    "ApprovalIssued",
    "PromptServed",
    "ProviderConfig",
    "ProviderEvent",
    "ProviderLimits",
    "ProviderServer",
    "ProviderStats",
    "ReceiptIssued",
    "SessionFailed",
]
