"""The consumer side of MOR-RPC: one ``ProviderClient`` per provider endpoint.

Everything the provider sends is verified before it is used: the pong's signer must be the
provider's on-chain address, the approval must decode to the bid/chain/user we asked for and be
signed (EIP-191) by that address, and each streamed chunk must carry a valid signature from the
provider key before it is decrypted. This is stricter than the Go consumer (§8 items 9, 12).
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import json
import os
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from app.p2p import crypto
from app.p2p.crypto import Approval, Receipt, keccak256
from app.p2p.errors import (
    CryptoError,
    PeerTimeout,
    ProtocolError,
    ProviderMisbehaved,
    ProviderRejected,
    ProviderUnreachable,
)
from app.p2p.framing import JsonStreamReader, decode_frame, loads_bounded
from app.p2p.gojson import (
    UINT64_MAX,
    Message,
    PingParams,
    PongResult,
    PromptChunk,
    PromptParams,
    ReportParams,
    ReportResult,
    RpcError,
    RpcResponse,
    SessionRequestParams,
    SessionRequestResult,
    chunk_signed_bytes,
    encode_request,
    hex0x,
    parse_hex,
    parse_response,
)
from app.p2p.keys import NodeKey
from app.p2p.openai_codec import DONE

CONNECT_TIMEOUT_S = 3.0
# A streamed chunk exactly as Go and we write it (§5.6.3); anything else takes the generic path.
_FAST_CHUNK = re.compile(
    rb'\{"id":"([0-9A-Za-z_.\-]{0,64})","result":\{"message":"([0-9a-f]+)",'
    rb'"signature":"0x([0-9a-f]{130})","timestamp":([0-9]{1,19})\}\}'
)
_last_timestamp: dict[str, int] = {}
CLOCK_STEP_BACK_MS = 1000
MAX_RESPONSE_BYTES = 4 << 20


@dataclass(frozen=True)
class _FastChunk:
    """A streamed chunk read by the fast path: its hex ciphertext as sent (already checked)."""

    hex_message: bytes
    timestamp: int
    signature: bytes


@dataclass(frozen=True)
class SessionApproval:
    """What ``openSession`` needs, plus the provider key later chunks are verified with."""

    approval: bytes
    approval_sig: bytes
    provider_key: bytes
    decoded: Approval


@dataclass(frozen=True)
class Pong:
    nonce: bytes
    version: str
    provider_key: bytes


def split_endpoint(endpoint: str) -> tuple[str, int]:
    """``host:port`` (the on-chain ``Provider.endpoint``; IPv6 as ``[::1]:3333``)."""
    host, sep, port = endpoint.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ProviderUnreachable(endpoint, "endpoint is not host:port")
    return host.strip("[]"), int(port)


def self_signed_receipt(
    signer: NodeKey,
    session_id: bytes,
    chain_id: int,
    *,
    tps_scaled1000: int = 0,
    ttft_ms: int = 0,
    input_tokens: int = 0,
    output_tokens: int = 0,
    timestamp: int | None = None,
) -> tuple[bytes, bytes]:
    """Fallback close-out receipt signed by the user (the contract records a dispute, §4.2)."""
    receipt = Receipt(
        session_id=session_id,
        chain_id=chain_id,
        timestamp=int(time.time()) if timestamp is None else timestamp,
        tps_scaled1000=tps_scaled1000,
        ttft_ms=ttft_ms,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
    ).encode()
    return receipt, signer.sign_message_hash(keccak256(receipt))


class ProviderClient:
    """Talks to one provider. Each call opens its own TCP connection (§5.1)."""

    def __init__(
        self,
        endpoint: str,
        signer: NodeKey,
        provider_address: str,
        *,
        chain_id: int,
        provider_key: bytes | None = None,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        read_timeout: float = 90.0,
        idle_timeout: float = 90.0,
        delegate_check: Callable[[str, str], Awaitable[bool]] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.host, self.port = split_endpoint(endpoint)
        self.signer = signer
        self.provider_address = provider_address.lower()
        self.chain_id = chain_id
        self.provider_key = provider_key
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.idle_timeout = idle_timeout
        # (provider, signer) → may signer sign for provider (§4.3; ``app.chain.delegation``)
        self.delegate_check = delegate_check

    async def _speaks_for_provider(self, address: str) -> bool:
        """The provider itself, or a key it authorised on chain (a delegate or its owner)."""
        if address == self.provider_address:
            return True
        if self.delegate_check is None:
            return False
        return await self.delegate_check(self.provider_address, address)

    # ------------------------------------------------------------ transport

    def _now_ms(self) -> int:
        """Strictly increasing per signer, so two identical requests never share a signature
        (the provider refuses replays and RFC 6979 signatures are deterministic). When the clock
        was set back by more than a second, follow it instead: a provider checking timestamps
        would refuse requests dated in the future until the wall clock caught up."""
        wall = int(time.time() * 1000)
        last = _last_timestamp.get(self.signer.address, 0)
        now = wall if wall < last - CLOCK_STEP_BACK_MS else max(wall, last + 1)
        _last_timestamp[self.signer.address] = now
        return now

    def _sign(self, msg: Message) -> bytes:
        return self.signer.sign_raw_hash(keccak256(msg.signed_bytes()))

    async def _open(self, payload: bytes) -> tuple[asyncio.StreamWriter, JsonStreamReader]:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, limit=1 << 16),
                self.connect_timeout,
            )
        except (OSError, TimeoutError) as exc:
            raise ProviderUnreachable(self.endpoint, repr(exc)) from exc
        try:
            writer.write(payload)
            await asyncio.wait_for(writer.drain(), self.read_timeout)
        except (OSError, TimeoutError) as exc:
            writer.close()
            raise ProviderUnreachable(self.endpoint, repr(exc)) from exc
        framed = JsonStreamReader(
            reader,
            max_message_bytes=MAX_RESPONSE_BYTES,
            read_timeout=self.read_timeout,
            idle_timeout=self.idle_timeout,
        )
        return writer, framed

    async def _read(
        self, framed: JsonStreamReader, request_id: str, *, eof_ok: bool = False
    ) -> RpcResponse | None:
        reply = await self._read_reply(framed, request_id, eof_ok=eof_ok, fast=False)
        assert not isinstance(reply, _FastChunk)
        return reply

    async def _read_reply(
        self, framed: JsonStreamReader, request_id: str, *, eof_ok: bool, fast: bool
    ) -> RpcResponse | _FastChunk | None:
        """The next reply; with ``fast``, a streamed chunk in its usual canonical shape comes
        back as a ``_FastChunk`` straight from one regex match (no scan, no generic decode)."""
        try:
            frame, escapes, groups = await framed.read_frame_or_match(
                _FAST_CHUNK if fast else None
            )
            if groups is not None:
                rid, message, signature, stamp = groups
                if rid == request_id.encode() and int(stamp) <= UINT64_MAX:
                    return _FastChunk(message, int(stamp), binascii.unhexlify(signature))
            response = parse_response(decode_frame(frame, escapes=escapes))
        except EOFError:
            if eof_ok:
                return None
            raise ProviderUnreachable(self.endpoint, "connection closed without a reply") from None
        except PeerTimeout as exc:
            raise ProviderUnreachable(self.endpoint, exc.reason) from exc
        except ProtocolError as exc:
            raise ProviderMisbehaved(exc.reason) from exc
        except OSError as exc:
            raise ProviderUnreachable(self.endpoint, repr(exc)) from exc
        if response.id != request_id:
            if response.id == "" and response.error is not None and not response.error.is_signed:
                # refused before the request was read (a per-IP rate or size limit): the reply
                # cannot name our id, and it is a refusal, not a forgery
                raise ProviderRejected(response.error.message)
            raise ProviderMisbehaved("reply id does not match the request")
        if response.error is not None:
            raise ProviderRejected(self._error_text(response.error))
        return response

    def _error_text(self, error: RpcError) -> str:
        if not error.is_signed:
            return error.message
        # Signed backend error: verify, then decrypt {"providerModelError": ...}.
        if self.provider_key and crypto.verify_hash(
            self.provider_key, keccak256(error.signed_bytes()), error.signature
        ):
            with contextlib.suppress(CryptoError, ProtocolError, ValueError):
                plain = loads_bounded(self.signer.ecies_decrypt(bytes.fromhex(error.message)))
                inner = plain.get("providerModelError", plain) if isinstance(plain, dict) else plain
                if isinstance(inner, dict) and isinstance(inner.get("error"), dict):
                    return str(inner["error"].get("message", inner))
                return json.dumps(inner)
        return "the provider's model failed"

    async def _call(self, method: str, params: Message) -> Any:
        request_id = os.urandom(4).hex() if method != "network.ping" else "0"
        writer, framed = await self._open(encode_request(request_id, method, params))
        try:
            response = await self._read(framed, request_id)
            assert response is not None
            return response.result
        finally:
            framed.close()
            writer.close()

    # ------------------------------------------------------------ methods

    async def ping(self) -> Pong:
        """Checks the provider is up and holds the key of ``provider_address``."""
        nonce = os.urandom(8)
        unsigned = PingParams(nonce)
        result = await self._call("network.ping", PingParams(nonce, self._sign(unsigned)))
        try:
            pong = PongResult.parse(result)
            key = crypto.recover_pubkey(keccak256(pong.signed_bytes()), pong.signature)
        except (ProtocolError, CryptoError) as exc:
            raise ProviderMisbehaved(f"bad pong: {exc}") from exc
        if pong.nonce != nonce:
            raise ProviderMisbehaved("pong echoes another nonce")
        if not await self._speaks_for_provider(crypto.address_from_pubkey(key)):
            raise ProviderMisbehaved("pong is not signed by the provider's address")
        if self.provider_key is None:
            self.provider_key = key
        return Pong(pong.nonce, pong.version, key)

    async def request_session(self, bid_id: bytes, spend: int) -> SessionApproval:
        """``session.request``: a verified approval to pass to ``openSession``."""
        unsigned = SessionRequestParams(
            user=self.signer.address.lower(),
            key=self.signer.public_key_uncompressed,
            spend=spend,
            timestamp=self._now_ms(),
            bid_id=bid_id,
        )
        params = SessionRequestParams(
            unsigned.user,
            unsigned.key,
            unsigned.spend,
            unsigned.timestamp,
            unsigned.bid_id,
            self._sign(unsigned),
        )
        result = await self._call("session.request", params)
        try:
            res = SessionRequestResult.parse(result)
            decoded = Approval.decode(res.approval)
            approver = crypto.recover_eip191_signer(keccak256(res.approval), res.approval_sig)
        except (ProtocolError, CryptoError) as exc:
            raise ProviderMisbehaved(f"bad approval: {exc}") from exc
        if not crypto.verify_hash(res.provider_key, keccak256(res.signed_bytes()), res.signature):
            raise ProviderMisbehaved("received invalid signature from provider")
        if len(res.provider_key) != 65 or not await self._speaks_for_provider(
            crypto.address_from_pubkey(res.provider_key)
        ):
            raise ProviderMisbehaved("the provider answered with a key that is not its own")
        if decoded.bid_id != bid_id or decoded.chain_id != self.chain_id:
            raise ProviderMisbehaved("approval is for another bid or chain")
        if decoded.user != self.signer.address.lower():
            raise ProviderMisbehaved("approval is for another user")
        if not await self._speaks_for_provider(approver):
            raise ProviderMisbehaved("approval is not signed by the bid's provider")
        self.provider_key = res.provider_key
        return SessionApproval(res.approval, res.approval_sig, res.provider_key, decoded)

    async def prompt(
        self, session_id: bytes, request: dict[str, Any], *, bid_id: bytes | None = None
    ) -> AsyncGenerator[Any, None]:
        """``session.prompt``: yields each verified, decrypted chunk (parsed JSON).

        Stops after ``"[DONE]"`` (not yielded), after a full ``chat.completion``, or at EOF once a
        chunk has arrived. An error reply raises ``ProviderRejected``. With ``bid_id``, a
        provider that lost our key (it restarted: "user not found") gets a fresh
        ``session.request`` and the prompt is sent once more.
        """
        try:
            async for chunk in self._prompt_once(session_id, request):
                yield chunk
            return
        except ProviderRejected as exc:
            if bid_id is None or exc.reason != "user not found":
                raise
        await self.request_session(bid_id, 0)
        async for chunk in self._prompt_once(session_id, request):
            yield chunk

    async def _prompt_once(self, session_id: bytes, request: dict[str, Any]) -> AsyncIterator[Any]:
        if self.provider_key is None:
            await self.ping()
        provider_key = self.provider_key
        assert provider_key is not None
        message = json.dumps(request, ensure_ascii=False, separators=(",", ":"))
        unsigned = PromptParams(session_id, message, self._now_ms())
        params = PromptParams(session_id, message, unsigned.timestamp, self._sign(unsigned))
        request_id = os.urandom(4).hex()
        writer, framed = await self._open(encode_request(request_id, "session.prompt", params))
        got_any = False
        finished = False  # a chunk carried a finish_reason: the answer is complete
        # The ECIES ephemeral key R of a chunk whose signature we verified. A later chunk under
        # the same R whose MAC checks out was made by someone holding the key agreement's
        # secret, which only that signer and we have: its signature adds nothing, so it is not
        # verified again (a provider reuses R for a whole answer; see ``EciesRecipient``).
        trusted_r = b""
        try:
            while True:
                response = await self._read_reply(framed, request_id, eof_ok=got_any, fast=True)
                if response is None:
                    # EOF after a chunk ends the stream (§5.6.3), but only a finished answer is
                    # a success: a provider that dies mid-answer must trigger failover, not
                    # pass for a short reply.
                    if finished:
                        return
                    raise ProviderUnreachable(
                        self.endpoint, "the connection closed in the middle of the answer"
                    )
                if not got_any:
                    framed.read_timeout = None  # deadline removed after the first chunk
                got_any = True
                try:
                    if isinstance(response, _FastChunk):
                        payload = binascii.unhexlify(response.hex_message)
                    else:  # Go tolerates a 0x here
                        chunk = PromptChunk.parse(response.result)
                        payload = parse_hex(chunk.message, "message")
                except ProtocolError as exc:
                    raise ProviderMisbehaved(exc.reason) from exc
                except ValueError as exc:
                    raise ProviderMisbehaved(f"chunk could not be decrypted: {exc}") from exc
                if not trusted_r or payload[:65] != trusted_r:
                    if isinstance(response, _FastChunk):
                        signed = chunk_signed_bytes(response.hex_message, response.timestamp)
                        signature = response.signature
                    else:
                        signed, signature = chunk.signed_bytes(), chunk.signature
                    if not crypto.verify_hash(provider_key, keccak256(signed), signature):
                        raise ProviderMisbehaved("chunk signature is not the provider's")
                try:
                    plain = loads_bounded(self.signer.ecies_decrypt(payload))
                except (CryptoError, ProtocolError, ValueError) as exc:
                    raise ProviderMisbehaved(f"chunk could not be decrypted: {exc}") from exc
                trusted_r = payload[:65]  # signed just now, or already trusted; its MAC held
                if plain == DONE:
                    return
                if isinstance(plain, dict) and "providerModelError" in plain:
                    raise ProviderRejected(json.dumps(plain["providerModelError"]))
                yield plain
                if isinstance(plain, dict) and plain.get("object") in ("chat.completion", "list"):
                    return  # a whole answer, or an embeddings response: nothing follows
                if isinstance(plain, dict) and any(
                    isinstance(c, dict) and c.get("finish_reason")
                    for c in plain.get("choices") or []
                ):
                    finished = True
        finally:
            framed.close()
            writer.close()

    async def embeddings(
        self, session_id: bytes, texts: list[str], *, bid_id: bytes | None = None
    ) -> list[list[float]]:
        """An embeddings prompt as the Go consumer sends it (``"type": "embeddings"``); one
        vector per text, in order."""
        request = {"input": texts, "model": "", "type": "embeddings"}
        answers = self.prompt(session_id, request, bid_id=bid_id)
        async with contextlib.aclosing(answers):
            async for plain in answers:
                data = plain.get("data") if isinstance(plain, dict) else None
                if not isinstance(data, list) or len(data) != len(texts):
                    break
                vectors: list[list[float]] = [[] for _ in texts]
                for item in data:
                    index = item.get("index") if isinstance(item, dict) else None
                    vector = item.get("embedding") if isinstance(item, dict) else None
                    if (
                        not isinstance(index, int)
                        or not 0 <= index < len(texts)
                        or not isinstance(vector, list)
                        or not all(isinstance(x, int | float) for x in vector)
                    ):
                        break
                    vectors[index] = [float(x) for x in vector]
                else:
                    if all(vectors):
                        return vectors
                break
        raise ProviderMisbehaved("the provider's answer is not an embeddings response")

    async def report(self, session_id: bytes) -> tuple[bytes, bytes]:
        """``session.report``: the provider-signed receipt and its EIP-191 signature, verified."""
        if self.provider_key is None:
            await self.ping()
        unsigned = ReportParams(hex0x(session_id), self._now_ms())
        params = ReportParams(unsigned.message, unsigned.timestamp, self._sign(unsigned))
        result = await self._call("session.report", params)
        try:
            res = ReportResult.parse(result)
            receipt = Receipt.decode(res.receipt)
            signer = crypto.recover_eip191_signer(keccak256(res.receipt), res.signed_report)
        except (ProtocolError, CryptoError) as exc:
            raise ProviderMisbehaved(f"bad receipt: {exc}") from exc
        assert self.provider_key is not None
        if not crypto.verify_hash(self.provider_key, keccak256(res.signed_bytes()), res.signature):
            raise ProviderMisbehaved("report signature is not the provider's")
        if receipt.session_id != session_id or receipt.chain_id != self.chain_id:
            raise ProviderMisbehaved("receipt is for another session or chain")
        if not await self._speaks_for_provider(signer):
            raise ProviderMisbehaved("receipt is not signed by the provider")
        return res.receipt, res.signed_report
