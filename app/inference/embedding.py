"""Embeddings from the local engine (``LocalEngine.embed``): the request goes to the engine's
child process like a chat request, so a llama.cpp crash there never takes the program down.

Kept out of ``engine.py`` so that file stays about generation.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from app.inference.engine_request import EngineRequest
from app.inference.types import ContextOverflow, EngineCrashed, InferenceError, ModelLoadError


class _Queue(Protocol):
    """What of ``LocalEngine`` an embeddings request needs: its queue to the child."""

    @property
    def _ids(self) -> Iterator[int]: ...

    @property
    def running(self) -> bool: ...

    async def start(self) -> None: ...

    def _enqueue(self, req: EngineRequest) -> None: ...

    def _dispatch(self) -> None: ...

    def _withdraw(self, req: EngineRequest) -> None: ...

MAX_INPUTS = 256


@dataclass(frozen=True)
class Embeddings:
    vectors: list[list[float]]
    prompt_tokens: int


async def embed_with(engine: _Queue, texts: list[str], *, client: str = "") -> Embeddings:
    """One unit-length vector per text (mean of the model's hidden states)."""
    if not texts:
        return Embeddings([], 0)
    if len(texts) > MAX_INPUTS:
        raise InferenceError(f"At most {MAX_INPUTS} texts can be embedded in one request.")
    if not engine.running:
        await engine.start()
    rid = next(engine._ids)
    req = EngineRequest(rid, client, {"op": "embed", "i": rid, "texts": texts}, time.perf_counter())
    engine._enqueue(req)
    engine._dispatch()
    try:
        msg = await req.events.get()
    finally:
        if not req.closed:
            req.closed = True
            engine._withdraw(req)
    vectors = msg.get("emb")
    if isinstance(vectors, list):
        return Embeddings(vectors, int(msg.get("n", 0)))
    if "crash" in msg:
        kind = ModelLoadError if msg.get("unusable") else EngineCrashed
        raise kind(msg["crash"], detail=msg.get("detail", ""))
    detail = str(msg.get("msg", msg))
    if "the limit is" in detail:
        raise ContextOverflow(f"A text is too long to embed: {detail}.")
    raise InferenceError("The model could not compute embeddings.", detail=detail)
