"""Writing a prompt's answer: encrypted, signed chunks (§5.6.3) and signed errors (§5.7 form 2).

Per chunk the provider does one JSON encoding, one AES-CTR + HMAC, one keccak and one secp256k1
signature; the ECIES ephemeral key is derived once per answer (``EciesRecipient`` reuses it).

Chunks: the first token goes out at once; after it, the tokens that arrive within
``interval_s`` of the last chunk travel together in the next one, sent when a token arrives after
the interval or when a timer fires at its end, so no token waits longer than the interval. The
format carries any text per chunk (Go sends one per backend chunk, whatever it holds, and counts
tokens with its tokenizer, not per chunk), and at 100 tokens/s that is a few tokens per chunk
instead of a signature and an encryption on each side for every token, CPU taken from the model
on a provider. ``interval_s=0`` sends one chunk per token.
"""

from __future__ import annotations

import asyncio
import binascii
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from app.inference.types import (
    ChatEngine,
    ChatRequest,
    CompletionDone,
    CompletionMetrics,
    InferenceError,
    TokenDelta,
)
from app.p2p.crypto import EciesRecipient, keccak256
from app.p2p.gojson import (
    Message,
    RpcError,
    chunk_signed_bytes,
    chunk_wire_bytes,
    encode_error,
    go_json_bytes,
)
from app.p2p.keys import NodeKey
from app.p2p.openai_codec import DONE, ChunkBuilder
from app.p2p.ports import SessionInfo

STAT_CAP = 10_000_000  # keeps LibSD's int64 products far from overflow (§3.14)
Write = Callable[[bytes], Awaitable[None]]


@dataclass
class SessionState:
    info: SessionInfo
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0  # prompts queued behind the one running
    ttfts: list[int] = field(default_factory=list)
    tps: list[int] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    reported: bool = False  # a receipt was issued: the consumer is closing it
    failed_prompts: int = 0  # answers the engine could not give (crash, out of memory)
    last_failed: bool = False  # the latest answer failed: the session is not served well


@dataclass(frozen=True)
class Served:
    prompt_tokens: int
    completion_tokens: int
    ttft_ms: int
    tps_scaled1000: int
    completed: bool
    failed: bool = False  # the engine failed (not the client leaving)


def sign_message(key: NodeKey, msg: Message | RpcError) -> bytes:
    return key.sign_raw_hash(keccak256(msg.signed_bytes()))


async def send_signed_error(
    key: NodeKey,
    write: Write,
    request_id: str,
    recipient: EciesRecipient,
    message: str,
    error_type: str,
    now_ms: int,
) -> None:
    """§5.7 form 2: ``{"providerModelError": {...}}`` encrypted to the user and signed, the only
    error form a Go consumer attributes to the provider itself."""
    payload = {"providerModelError": {"error": {"message": message, "type": error_type}}}
    ct = recipient.encrypt(go_json_bytes(payload)).hex()
    unsigned = RpcError(message=ct, timestamp=now_ms, signature=b"")
    signed = RpcError(ct, now_ms, signature=sign_message(key, unsigned))
    await write(encode_error(request_id, signed))


async def send_signed_chunk(
    key: NodeKey,
    write: Write,
    request_id: str,
    recipient: EciesRecipient,
    payload: Any,
    now_ms: Callable[[], int],
) -> None:
    """One §5.6.3 chunk outside a token stream (an embeddings answer): ``payload`` as Go
    marshals a map (sorted keys), encrypted to the user, signed."""
    ct = binascii.hexlify(recipient.encrypt(go_json_bytes(payload, sort_keys=True)))
    ts = now_ms()
    sig = key.sign_raw_hash(keccak256(chunk_signed_bytes(ct, ts)))
    await write(
        b'{"id":%s,"result":' % go_json_bytes(request_id) + chunk_wire_bytes(ct, sig, ts) + b"}"
    )


async def stream_answer(
    key: NodeKey,
    engine: ChatEngine,
    chat: ChatRequest,
    stream: bool,
    *,
    request_id: str,
    recipient: EciesRecipient,
    model_name: str,
    write: Write,
    now_ms: Callable[[], int],
    client: str | None,
    record: Callable[[Served], None],
    write_now: Callable[[bytes], None],
    interval_s: float,
) -> None:
    """Runs the engine and writes its tokens as chunks (see the module's note on grouping);
    ``record`` gets the prompt's statistics however it ends (a client that leaves mid-answer
    still used the engine). ``write_now`` queues bytes without waiting (the timer's flush)."""
    builder = ChunkBuilder("chatcmpl-" + os.urandom(12).hex(), model_name)
    id_prefix = b'{"id":%s,"result":' % go_json_bytes(request_id)
    loop = asyncio.get_running_loop()

    def frame(plain: bytes) -> bytes:
        # ``hexlify`` gives plain lowercase hex, so PromptChunk's byte formats apply as is
        ct = binascii.hexlify(recipient.encrypt(plain))
        ts = now_ms()
        sig = key.sign_raw_hash(keccak256(chunk_signed_bytes(ct, ts)))
        return id_prefix + chunk_wire_bytes(ct, sig, ts) + b"}"

    async def send(payload: Any) -> None:
        await write(frame(go_json_bytes(payload, sort_keys=True)))

    start = time.monotonic()
    first: float | None = None
    pieces: list[str] = []
    held: list[str] = []  # tokens not sent yet (streaming only)
    last_sent = 0.0  # loop time of the last chunk
    timer: asyncio.TimerHandle | None = None

    def take_held() -> bytes:
        nonlocal last_sent
        text = "".join(held)
        held.clear()
        last_sent = loop.time()
        return frame(builder.delta_bytes(text))

    def on_timer() -> None:
        nonlocal timer
        timer = None
        if held:
            write_now(take_held())

    async def send_held() -> None:
        if held:
            await write(take_held())

    metrics: CompletionMetrics | None = None
    completed = False
    failed = False
    try:
        if client is not None:
            gen = engine.chat_stream(chat, client=client)  # type: ignore[call-arg]
        else:
            gen = engine.chat_stream(chat)
        try:
            async for event in gen:
                if isinstance(event, TokenDelta):
                    if first is None:
                        first = time.monotonic()
                    pieces.append(event.text)
                    if not stream:
                        continue
                    held.append(event.text)
                    if loop.time() - last_sent >= interval_s:
                        if timer is not None:
                            timer.cancel()
                            timer = None
                        await send_held()
                    elif timer is None:
                        timer = loop.call_at(last_sent + interval_s, on_timer)
                elif isinstance(event, CompletionDone):
                    metrics = event.metrics
        finally:
            if timer is not None:
                timer.cancel()
            aclose = getattr(gen, "aclose", None)
            if aclose is not None:
                await aclose()
        await send_held()
        if metrics is None:
            metrics = CompletionMetrics(0, len(pieces), 0.0, 0.0, "stop")
        if stream:
            await send(builder.final(metrics))
            await send(DONE)
        else:
            await send(builder.full("".join(pieces), metrics))
        completed = True
    except InferenceError as exc:
        failed = True
        await send_held()  # what was decoded before the failure, as per-token chunks would
        await send_signed_error(
            key, write, request_id, recipient, exc.message, "upstream_error", now_ms()
        )
    finally:
        end = time.monotonic()
        out_tokens = metrics.completion_tokens if metrics else len(pieces)
        in_tokens = metrics.prompt_tokens if metrics else 0
        ttft_ms = min(STAT_CAP, int(((first or end) - start) * 1000))
        tps = min(STAT_CAP, int(out_tokens * 1000 / max(end - start, 1e-3)))
        record(Served(in_tokens, out_tokens, ttft_ms, tps, completed, failed))


__all__ = ["Served", "SessionState", "send_signed_chunk", "send_signed_error", "stream_answer"]
