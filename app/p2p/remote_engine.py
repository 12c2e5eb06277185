"""A remote Morpheus session seen as a ``ChatEngine``, so the chat page and the local HTTP API can
use it exactly like a local model."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from typing import Any

from app.inference.types import (
    ChatRequest,
    CompletionDone,
    CompletionMetrics,
    StreamEvent,
    TokenDelta,
)
from app.p2p.consumer_client import ProviderClient
from app.p2p.openai_codec import chat_request_to_openai


class RemoteSessionEngine:
    """Streams answers from one open session; ttft and tokens/s are measured on our side."""

    def __init__(
        self,
        client: ProviderClient,
        session_id: bytes,
        model_name: str = "",
        *,
        bid_id: bytes | None = None,
    ) -> None:
        self.client = client
        self.session_id = session_id
        self.model_name = model_name
        self.bid_id = bid_id  # lets the client re-handshake with a provider that restarted

    async def model_names(self) -> list[str]:
        return [self.model_name or "remote"]

    async def chat_stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        start = time.monotonic()
        first: float | None = None
        count = 0
        usage: dict[str, Any] = {}
        finish = "stop"
        chunks = self.client.prompt(
            self.session_id, chat_request_to_openai(request), bid_id=self.bid_id
        )
        async for chunk in chunks:
            if not isinstance(chunk, dict):
                continue
            if isinstance(chunk.get("usage_from_provider"), dict):
                usage = chunk["usage_from_provider"]
            for choice in chunk.get("choices") or []:
                if not isinstance(choice, dict):
                    continue
                part = choice.get("delta") or choice.get("message") or {}
                text = part.get("content") if isinstance(part, dict) else None
                if isinstance(text, str) and text:
                    if first is None:
                        first = time.monotonic()
                    tokens = estimate_tokens(text)
                    count += tokens
                    yield TokenDelta(text, tokens)
                if choice.get("finish_reason") == "length":
                    finish = "length"
        end = time.monotonic()
        completion = _int(usage.get("completion_tokens"), count)
        gen_time = end - (first or end)
        yield CompletionDone(
            CompletionMetrics(
                prompt_tokens=_int(usage.get("prompt_tokens"), 0),
                completion_tokens=completion,
                ttft_ms=((first or end) - start) * 1000,
                tokens_per_s=completion / gen_time if gen_time > 0 else 0.0,
                finish_reason="length" if finish == "length" else "stop",
            )
        )


# a word with its leading space, or one other symbol: about one token each in BPE vocabularies
_PIECE = re.compile(r"\s*\w+|\s*[^\w\s]|\s+$")


def estimate_tokens(text: str) -> int:
    """Tokens in a chunk for the live speed: a provider may send several per chunk (one per
    chunk is exact for single words; long words split in several tokens count as one)."""
    return max(1, len(_PIECE.findall(text)))


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
