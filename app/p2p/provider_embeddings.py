"""Embeddings prompts over MOR-RPC, as the reference Go node carries them (spec §5.6.3).

Request: ``session.prompt`` whose ``message`` is an OpenAI embeddings request with one extra
top-level key, ``"type": "embeddings"`` (the Go consumer's ``SendEmbeddings`` adds it; its
provider dispatches on it and strips it). Answer: one signed, encrypted chunk whose plaintext is
the OpenAI embeddings response, keys sorted as Go's map marshalling writes them:
``{"data":[{"embedding":[…],"index":0,"object":"embedding"}],"model":…,"object":"list",
"usage":{…}}``; the Go consumer stops reading after it (it needs a non-empty ``data``). Vectors
are always floats: the Go consumer decodes ``embedding`` into ``[]float32``, so base64 would
break it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from app.inference.types import InferenceError
from app.p2p.crypto import EciesRecipient
from app.p2p.keys import NodeKey
from app.p2p.openai_codec import InvalidInferenceRequest, UnsupportedRequest
from app.p2p.provider_stream import Served, Write, send_signed_chunk, send_signed_error

MAX_INPUTS = 256
MAX_TEXT_CHARS = 64 * 1024
# what a consumer reads in one reply (ours: 4 MiB of hex, i.e. 2 MiB of JSON), with room to spare
MAX_ANSWER_BYTES = 3 << 19


@runtime_checkable
class EmbeddingEngine(Protocol):
    """An engine that can embed (``LocalEngine``); ``embed`` returns vectors and a token count."""

    async def embed(self, texts: list[str]) -> Any: ...


def embeddings_texts(obj: Any, engine: object) -> list[str] | None:
    """The texts of an embeddings request, or None when ``obj`` is not one (a chat request).

    Raises ``UnsupportedRequest`` when the engine cannot embed (a signed refusal follows), and
    ``InvalidInferenceRequest`` for an input we cannot take (token-id arrays, empty text)."""
    if not isinstance(obj, dict) or obj.get("type") != "embeddings":
        return None
    if not isinstance(engine, EmbeddingEngine):
        raise UnsupportedRequest("embeddings requests are not supported by this provider")
    raw = obj.get("input")
    texts = [raw] if isinstance(raw, str) else raw
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise InvalidInferenceRequest("input must be a text or a non-empty list of texts")
    if len(texts) > MAX_INPUTS:
        raise InvalidInferenceRequest(f"at most {MAX_INPUTS} texts per request")
    if any(not t or len(t) > MAX_TEXT_CHARS for t in texts):
        raise InvalidInferenceRequest(f"each text must have 1 to {MAX_TEXT_CHARS} characters")
    fmt = obj.get("encoding_format")
    if fmt not in (None, "", "float", "base64"):
        raise InvalidInferenceRequest("encoding_format must be float or base64")
    return texts


def embeddings_response(
    vectors: list[list[float]], prompt_tokens: int, model: str
) -> dict[str, Any]:
    """The OpenAI embeddings object (go-openai's ``EmbeddingResponse`` fields)."""
    return {
        "data": [
            {"embedding": [float(x) for x in v], "index": i, "object": "embedding"}
            for i, v in enumerate(vectors)
        ],
        "model": model,
        "object": "list",
        "usage": {
            "completion_tokens": 0,
            "prompt_tokens": prompt_tokens,
            "total_tokens": prompt_tokens,
        },
    }


async def answer_embeddings(
    key: NodeKey,
    engine: EmbeddingEngine,
    texts: list[str],
    *,
    request_id: str,
    recipient: EciesRecipient,
    model_name: str,
    write: Write,
    now_ms: Callable[[], int],
    monotonic: Callable[[], float],
    record: Callable[[Served], None],
) -> None:
    """Embeds, then writes one signed chunk (or a signed error the consumer can show)."""
    start = monotonic()
    try:
        result = await engine.embed(texts)
    except InferenceError as exc:
        record(Served(0, 0, int((monotonic() - start) * 1000), 0, False, failed=True))
        await send_signed_error(
            key, write, request_id, recipient, exc.message, "upstream_error", now_ms()
        )
        return
    tokens = int(getattr(result, "prompt_tokens", 0))
    payload = embeddings_response(list(result.vectors), tokens, model_name)
    ttft = int((monotonic() - start) * 1000)
    if sum(len(v) for v in result.vectors) * 24 > MAX_ANSWER_BYTES:
        # a float is at most ~24 bytes of JSON; the hex ciphertext doubles it
        record(Served(tokens, 0, min(ttft, 10_000_000), 0, False))
        await send_signed_error(
            key,
            write,
            request_id,
            recipient,
            "the answer would be too large for one message; send fewer texts at a time",
            "invalid_request_error",
            now_ms(),
        )
        return
    await send_signed_chunk(key, write, request_id, recipient, payload, now_ms)
    record(Served(tokens, 0, min(ttft, 10_000_000), 0, True))


__all__ = ["answer_embeddings", "embeddings_response", "embeddings_texts"]
