"""Which engine answers which model name.

Why a registry: the HTTP API and the chat page talk to "a model by name" and must not care whether
it runs in our llama.cpp child process, behind an OpenAI-compatible URL, or on a remote Morpheus
provider reached through an open session — each of those registers here as a ``ChatEngine``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from app.errors import UserFacingError

if TYPE_CHECKING:  # (annotations only: the Chat page lists engines before any is used)
    from app.inference.types import ChatEngine, ChatRequest, StreamEvent


class UnknownModel(UserFacingError):
    """No engine is registered under the requested model name."""


class ModelSource(Protocol):
    """Models whose list changes while the API runs (e.g. the network's ``mor/…`` models)."""

    def owns(self, name: str) -> bool: ...

    async def names(self) -> list[str]: ...

    def engine(self, name: str) -> ChatEngine: ...


class EngineRouter:
    def __init__(self) -> None:
        self._engines: dict[str, ChatEngine] = {}
        self._sources: list[ModelSource] = []

    def add_source(self, source: ModelSource) -> None:
        self._sources.append(source)

    def owned(self, name: str) -> bool:
        """A name some source answers for, listed right now or not."""
        return any(src.owns(name) for src in self._sources)

    async def all_names(self) -> list[str]:
        """Registered names, then each source's current names."""
        out = self.names()
        for src in self._sources:
            out += [n for n in await src.names() if n not in out]
        return out

    def register(self, name: str, engine: ChatEngine) -> None:
        """Serve ``name`` with ``engine``, replacing any earlier registration of that name."""
        name = name.strip()
        if not name:
            raise ValueError("a model name cannot be empty")
        self._engines[name] = engine

    async def register_engine_models(self, engine: ChatEngine) -> list[str]:
        """Register every model the engine says it serves; return those names."""
        names = await engine.model_names()
        for name in names:
            self.register(name, engine)
        return names

    def unregister(self, name: str) -> None:
        self._engines.pop(name, None)

    def names(self) -> list[str]:
        return sorted(self._engines)

    def resolve(self, name: str) -> ChatEngine:
        try:
            return self._engines[name]
        except KeyError:
            for src in self._sources:
                if src.owns(name):
                    return src.engine(name)
            available = ", ".join(self.names()) or "none"
            raise UnknownModel(
                f"The model '{name}' is not available. Available models: {available}."
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._engines

    def __len__(self) -> int:
        return len(self._engines)


class LazyEngine:
    """An engine started on its first request rather than when it is listed.

    Why: loading a model takes seconds and memory; the chat picker and ``/v1/models`` should
    list it at once, and a user who never sends a message should not pay for it. ``start``
    returns the real engine (e.g. the app's shared ``LocalEngine``) and may be called often.
    """

    def __init__(self, start: Callable[[], Awaitable[ChatEngine]], name: str) -> None:
        self._start = start
        self.name = name

    async def model_names(self) -> list[str]:
        return [self.name]

    async def embed(self, texts: list[str]) -> Any:
        """The started engine's embeddings (``Embeddings``); a 400 if it has none."""
        engine = await self._start()
        embed = getattr(engine, "embed", None)
        if embed is None:
            from app.api.openai_format import ApiError

            raise ApiError(400, f"The model '{self.name}' does not provide embeddings.",
                           param="model", code="unsupported_model")
        return await embed(texts)

    async def chat_stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        engine = await self._start()
        stream = engine.chat_stream(request)
        async with contextlib.aclosing(stream):  # type: ignore[type-var]
            async for event in stream:
                yield event
