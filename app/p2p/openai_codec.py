"""The inference payloads carried inside ``session.prompt`` (OpenAI chat JSON), both directions.

The provider turns the consumer's request into our ``ChatRequest`` and engine events into
``chat.completion.chunk`` objects; the consumer does the reverse. Validation happens here so that
a bad request is refused before any inference starts.
"""

from __future__ import annotations

import math
import time
from typing import Any

from app.inference.types import ChatMessage, ChatRequest, CompletionMetrics, Role, SamplingParams
from app.p2p.gojson import go_json_bytes

DONE = "[DONE]"
_ROLES: dict[str, Role] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
}
MAX_MESSAGES = 512
MAX_TOP_K = 1_000_000  # more than any vocabulary; 0 means no top-k cut


class InvalidInferenceRequest(ValueError):
    """The prompt's JSON is not a chat request we can run."""


class UnsupportedRequest(InvalidInferenceRequest):
    """A valid request of a kind this provider does not serve (audio, tools, embeddings on an
    engine that cannot embed; see ``provider_embeddings``): the answer is a signed "not
    supported by this provider" error, not a malformed-request one."""


UNSUPPORTED_TYPES = frozenset({"embeddings", "audio_transcription", "audio_speech"})
_TOOL_ROLES = frozenset({"tool", "function"})


def _number(
    obj: dict[str, Any], key: str, lo: float, hi: float, default: float, *, above: bool = False
) -> float:
    """``obj[key]`` in [lo, hi] (``above``: in (lo, hi]); absent or null: ``default``."""
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInferenceRequest(f"{key} must be a number")
    if above and not lo < value <= hi:
        raise InvalidInferenceRequest(f"{key} must be above {lo} and at most {hi}")
    if not lo <= value <= hi:
        raise InvalidInferenceRequest(f"{key} must be between {lo} and {hi}")
    return float(value)


def _integer(obj: dict[str, Any], key: str, lo: int, hi: int, default: int) -> int:
    """``obj[key]``, a whole number in [lo, hi]; absent or null: ``default``."""
    value = obj.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidInferenceRequest(f"{key} must be an integer between {lo} and {hi}")
    return value


def _content(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for part in value:
            if not isinstance(part, dict) or part.get("type") != "text":
                raise InvalidInferenceRequest("only text message parts are supported")
            text = part.get("text")
            if not isinstance(text, str):
                raise InvalidInferenceRequest("message part text must be a string")
            parts.append(text)
        return "".join(parts)
    raise InvalidInferenceRequest("message content must be text")


def parse_chat_request(obj: Any, *, model: str, max_tokens_cap: int) -> tuple[ChatRequest, bool]:
    """OpenAI ``ChatCompletionRequest`` JSON → (ChatRequest, stream?). Beside OpenAI's fields
    (the sampling ones: temperature, top_p, frequency/presence penalties, stop, seed),
    llama.cpp's ``top_k`` and ``repeat_penalty`` (which our consumer sends); absent, the
    provider's defaults apply, as for a Go consumer, which sends neither."""
    if not isinstance(obj, dict):
        raise InvalidInferenceRequest("request must be a JSON object")
    kind = obj.get("type")
    if kind in UNSUPPORTED_TYPES:
        raise UnsupportedRequest(f"{kind} requests are not supported by this provider")
    if kind not in (None, ""):
        raise InvalidInferenceRequest(f"request type {obj.get('type')!r} is not supported")
    raw_messages = obj.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages or len(raw_messages) > MAX_MESSAGES:
        raise InvalidInferenceRequest("messages must be a non-empty list")
    if obj.get("tools") or obj.get("functions") or any(
        isinstance(m, dict) and m.get("role") in _TOOL_ROLES for m in raw_messages
    ):
        raise UnsupportedRequest("tool calls are not supported by this provider")
    messages = []
    for m in raw_messages:
        if not isinstance(m, dict) or m.get("role") not in _ROLES:
            raise InvalidInferenceRequest("each message needs a role of system, user or assistant")
        messages.append(ChatMessage(_ROLES[m["role"]], _content(m.get("content"))))
    raw_max = obj.get("max_completion_tokens", obj.get("max_tokens"))
    if raw_max is None:
        max_tokens = max_tokens_cap
    elif isinstance(raw_max, bool) or not isinstance(raw_max, int) or raw_max < 1:
        raise InvalidInferenceRequest("max_tokens must be a positive integer")
    else:
        max_tokens = min(raw_max, max_tokens_cap)
    stop = obj.get("stop")
    if stop is None:
        stops: tuple[str, ...] = ()
    elif isinstance(stop, str):
        stops = (stop,)
    elif isinstance(stop, list) and len(stop) <= 8 and all(isinstance(s, str) for s in stop):
        stops = tuple(stop)
    else:
        raise InvalidInferenceRequest("stop must be a string or a list of up to 8 strings")
    seed = obj.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise InvalidInferenceRequest("seed must be an integer")
    stream = obj.get("stream", False)
    if not isinstance(stream, bool):
        raise InvalidInferenceRequest("stream must be true or false")
    params = SamplingParams(
        max_tokens=max_tokens,
        temperature=_number(obj, "temperature", 0.0, 2.0, SamplingParams.temperature),
        top_p=_number(obj, "top_p", 0.0, 1.0, SamplingParams.top_p),
        top_k=_integer(obj, "top_k", 0, MAX_TOP_K, SamplingParams.top_k),
        # llama.cpp divides logits by it
        repeat_penalty=_number(
            obj, "repeat_penalty", 0.0, 5.0, SamplingParams.repeat_penalty, above=True
        ),
        frequency_penalty=_number(obj, "frequency_penalty", -2.0, 2.0, 0.0),
        presence_penalty=_number(obj, "presence_penalty", -2.0, 2.0, 0.0),
        stop=stops,
        seed=seed,
    )
    return ChatRequest(tuple(messages), params, model), stream


def chat_request_to_openai(request: ChatRequest, *, stream: bool = True) -> dict[str, Any]:
    """Our ``ChatRequest`` → the OpenAI JSON a provider expects in ``session.prompt``."""
    p = request.params
    out: dict[str, Any] = {
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "stream": stream,
        "max_tokens": p.max_tokens,
        "temperature": p.temperature,
        "top_p": p.top_p,
        # llama.cpp's names (llama-server reads them); a Go provider decodes the request into
        # OpenAI's fields and ignores them, as OpenAI-compatible servers do with unknown keys
        "top_k": p.top_k,
        "repeat_penalty": p.repeat_penalty,
    }
    # OpenAI's own fields, which a Go consumer sends too; left out at 0 as Go's omitempty does
    if p.frequency_penalty:
        out["frequency_penalty"] = p.frequency_penalty
    if p.presence_penalty:
        out["presence_penalty"] = p.presence_penalty
    if request.model:
        out["model"] = request.model
    if p.stop:
        out["stop"] = list(p.stop)
    if p.seed is not None:
        out["seed"] = p.seed
    return out


class ChunkBuilder:
    """Builds the ``chat.completion.chunk`` objects of one answer (keys sorted by the encoder)."""

    def __init__(self, completion_id: str, model: str) -> None:
        self.id = completion_id
        self.model = model
        self.created = int(time.time())
        self._first = True
        # ``delta_bytes``: the sorted Go-JSON of a delta chunk around its one variable part
        tail = (
            b'},"finish_reason":null,"index":0}],"created":%d,"id":%s,"model":%s,'
            b'"object":"chat.completion.chunk"}'
        ) % (self.created, go_json_bytes(completion_id), go_json_bytes(model))
        self._head = b'{"choices":[{"delta":{"content":'
        self._tail_first = b',"role":"assistant"' + tail
        self._tail = tail

    def delta_bytes(self, text: str) -> bytes:
        """``go_json_bytes(self.delta(text), sort_keys=True)`` without building the dict: this
        runs once per token (tests check the bytes are identical)."""
        tail = self._tail_first if self._first else self._tail
        self._first = False
        return self._head + go_json_bytes(text) + tail

    def _base(self, obj: str) -> dict[str, Any]:
        return {"id": self.id, "object": obj, "created": self.created, "model": self.model}

    def delta(self, text: str) -> dict[str, Any]:
        delta: dict[str, Any] = {"content": text}
        if self._first:
            delta["role"] = "assistant"
            self._first = False
        chunk = self._base("chat.completion.chunk")
        chunk["choices"] = [{"index": 0, "delta": delta, "finish_reason": None}]
        return chunk

    def final(self, metrics: CompletionMetrics) -> dict[str, Any]:
        chunk = self._base("chat.completion.chunk")
        chunk["choices"] = [
            {"index": 0, "delta": {}, "finish_reason": metrics.openai_finish_reason()}
        ]
        chunk["usage_from_provider"] = metrics.openai_usage()
        return chunk

    def full(self, text: str, metrics: CompletionMetrics) -> dict[str, Any]:
        out = self._base("chat.completion")
        out["choices"] = [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": metrics.openai_finish_reason(),
            }
        ]
        out["usage"] = metrics.openai_usage()
        out["usage_from_provider"] = metrics.openai_usage()
        return out
