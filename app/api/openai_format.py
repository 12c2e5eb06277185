"""Translation between OpenAI's chat-completions JSON and our ``ChatRequest`` / stream events.

Kept apart from the HTTP server so the shapes can be tested without sockets, and so the same
mapping can serve a remote-session proxy later.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from app.api.errors import ApiError
from app.api.json_mode import grammar_for, refuse_tools
from app.inference.types import ChatMessage, ChatRequest, CompletionMetrics, Role, SamplingParams

_ROLES: dict[str, Role] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
}


def _bad(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code="invalid_value" if param else None)


def _content_text(content: Any, index: int) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text":
                parts.append(str(part.get("text", "")))
            else:
                raise _bad(
                    f"messages[{index}].content: only text parts are supported.",
                    f"messages[{index}].content",
                )
        return "".join(parts)
    raise _bad(f"messages[{index}].content must be a string.", f"messages[{index}].content")


def _number(
    body: dict[str, Any], name: str, lo: float, hi: float, *, above: bool = False
) -> float | None:
    """``body[name]`` in [lo, hi] (``above``: in (lo, hi]); None when absent or null."""
    if body.get(name) is None:
        return None
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(f"'{name}' must be a number.", name)
    if above and not lo < float(value) <= hi:
        raise _bad(f"'{name}' must be above {lo:g} and at most {hi:g}.", name)
    if not lo <= float(value) <= hi:
        raise _bad(f"'{name}' must be between {lo:g} and {hi:g}.", name)
    return float(value)


def _integer(body: dict[str, Any], name: str, lo: int, hi: int) -> int | None:
    if body.get(name) is None:
        return None
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"'{name}' must be a whole number.", name)
    if not lo <= value <= hi:
        raise _bad(f"'{name}' must be between {lo} and {hi}.", name)
    return value


def parse_chat_request(body: Any) -> tuple[ChatRequest, bool, bool]:
    """Validate a /v1/chat/completions body; return (request, stream, include_usage)."""
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    refuse_tools(body)
    grammar = grammar_for(body)
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _bad("'model' is required: the name of one of the models from /v1/models.", "model")
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise _bad("'messages' is required: a non-empty list of chat messages.", "messages")
    messages: list[ChatMessage] = []
    for i, m in enumerate(raw_messages):
        if not isinstance(m, dict):
            raise _bad(f"messages[{i}] must be an object with 'role' and 'content'.", "messages")
        role = _ROLES.get(str(m.get("role")))
        if role is None:
            raise _bad(
                f"messages[{i}].role must be one of system, user, assistant.",
                f"messages[{i}].role",
            )
        messages.append(ChatMessage(role, _content_text(m.get("content"), i)))
    n = _integer(body, "n", 1, 1)
    del n
    defaults = SamplingParams()
    max_tokens = _integer(body, "max_completion_tokens", 1, 1_000_000)
    if max_tokens is None:
        max_tokens = _integer(body, "max_tokens", 1, 1_000_000)
    temperature = _number(body, "temperature", 0.0, 2.0)
    top_p = _number(body, "top_p", 0.0, 1.0)
    top_k = _integer(body, "top_k", 0, 1_000_000)
    repeat_penalty = _number(body, "repeat_penalty", 0.0, 5.0, above=True)  # a divisor in llama
    frequency_penalty = _number(body, "frequency_penalty", -2.0, 2.0)
    presence_penalty = _number(body, "presence_penalty", -2.0, 2.0)
    seed = _integer(body, "seed", -(2**63), 2**63 - 1)
    stop_raw = body.get("stop")
    if stop_raw is None:
        stop: tuple[str, ...] = ()
    elif isinstance(stop_raw, str):
        stop = (stop_raw,) if stop_raw else ()
    elif isinstance(stop_raw, list) and all(isinstance(s, str) for s in stop_raw):
        if len(stop_raw) > 16:
            raise _bad("'stop' may hold at most 16 strings.", "stop")
        stop = tuple(s for s in stop_raw if s)
    else:
        raise _bad("'stop' must be a string or a list of strings.", "stop")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _bad("'stream' must be true or false.", "stream")
    options = body.get("stream_options") or {}
    include_usage = bool(isinstance(options, dict) and options.get("include_usage"))
    params = SamplingParams(
        max_tokens=max_tokens if max_tokens is not None else defaults.max_tokens,
        temperature=temperature if temperature is not None else defaults.temperature,
        top_p=top_p if top_p is not None else defaults.top_p,
        top_k=top_k if top_k is not None else defaults.top_k,
        repeat_penalty=repeat_penalty if repeat_penalty is not None else defaults.repeat_penalty,
        frequency_penalty=frequency_penalty or 0.0,
        presence_penalty=presence_penalty or 0.0,
        stop=stop,
        seed=seed,
        grammar=grammar,
    )
    return ChatRequest(tuple(messages), params, model.strip()), stream, include_usage


def new_completion_id() -> str:
    return "chatcmpl-" + secrets.token_hex(12)


def timings(metrics: CompletionMetrics) -> dict[str, float]:
    """An extra field (as llama-server has) so tools can show speed without timing it."""
    return {"ttft_ms": round(metrics.ttft_ms, 3), "tokens_per_s": round(metrics.tokens_per_s, 3)}


def completion_object(
    completion_id: str, created: int, model: str, text: str, metrics: CompletionMetrics
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": None,
                "finish_reason": metrics.openai_finish_reason(),
            }
        ],
        "usage": metrics.openai_usage(),
        "timings": timings(metrics),
    }


def chunk_object(
    completion_id: str,
    created: int,
    model: str,
    delta: dict[str, Any],
    finish: str | None = None,
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def usage_chunk(
    completion_id: str, created: int, model: str, metrics: CompletionMetrics
) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [],
        "usage": metrics.openai_usage(),
        "timings": timings(metrics),
    }


def model_object(name: str, created: int | None = None) -> dict[str, Any]:
    return {
        "id": name,
        "object": "model",
        "created": created if created is not None else int(time.time()),
        "owned_by": "morpheus-network" if name.startswith("mor/") else "morpheus-desktop",
    }
