"""``/v1/embeddings`` bodies: what OpenAI's clients send (one text or a list, floats or base64)
and what they expect back."""

from __future__ import annotations

import base64
import struct
from typing import Any

from app.api.openai_format import ApiError
from app.inference.embedding import MAX_INPUTS


def _bad(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code="invalid_value" if param else None)


def parse_embeddings_request(body: Any) -> tuple[str, list[str], str]:
    """Validate a body; return (model, texts, encoding_format)."""
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise _bad("'model' is required: the name of one of the models from /v1/models.", "model")
    raw = body.get("input")
    if isinstance(raw, str):
        texts = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(t, str) for t in raw):
        texts = list(raw)
    elif isinstance(raw, list) and raw:
        raise _bad("'input' must be text or a list of texts (token arrays are not supported).",
                   "input")
    else:
        raise _bad("'input' is required: a text or a non-empty list of texts.", "input")
    if len(texts) > MAX_INPUTS:
        raise _bad(f"'input' may hold at most {MAX_INPUTS} texts.", "input")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise _bad("'encoding_format' must be 'float' or 'base64'.", "encoding_format")
    if body.get("dimensions") is not None:
        raise ApiError(400, "'dimensions' is not supported: the model's own size is used.",
                       param="dimensions", code="unsupported_parameter")
    return model.strip(), texts, str(encoding)


def _encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "base64":  # little-endian float32, as OpenAI sends it
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
    return vector


def embeddings_response(
    model: str, vectors: list[list[float]], prompt_tokens: int, encoding: str
) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": i, "embedding": _encode(v, encoding)}
            for i, v in enumerate(vectors)
        ],
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }
