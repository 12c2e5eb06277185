"""Where the chat page's model picker gets its entries: a list of "sources", each a label and a
``ChatEngine``. No Qt here.

Why a hook: local models exist now; models reached through open Morpheus sessions are added later
by the consumer side without touching the chat page — it registers a provider function with
:func:`add_source_provider` and the page calls :func:`collect_sources` when it refreshes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from app.api.router import LazyEngine
from app.errors import UserFacingError
from app.inference.types import ChatEngine

log = logging.getLogger(__name__)

SOURCE_PROVIDERS_KEY = "chat_source_providers"
LOCAL_DETAIL = "Free · runs on this computer, nothing leaves it"


@dataclass(frozen=True)
class ChatSource:
    """One entry of the model picker.

    ``model`` is the name sent in ``ChatRequest.model`` and the key of the per-model settings;
    ``label`` is what the user reads ("This computer · SmolLM2 135M").
    """

    label: str
    engine: ChatEngine
    model: str = ""
    detail: str = ""  # the picker's second line: price per hour and quality, or "Free"

    @property
    def model_name(self) -> str:
        return self.model or self.label


SourceProvider = Callable[[], Awaitable[list[ChatSource]]]


def add_source_provider(ctx: Any, provider: SourceProvider) -> None:
    """Register a function that lists extra chat sources (e.g. remote sessions)."""
    ctx.extras.setdefault(SOURCE_PROVIDERS_KEY, []).append(provider)


async def local_sources(ctx: Any) -> list[ChatSource]:
    """The running local engine's models; else the library's default model, started lazily
    through the app's shared services (the same engine "Share my GPU" uses)."""
    engine = getattr(ctx, "engine", None)
    if engine is None:
        from app.inference.bundled import BUNDLED_NAME, bundled_model_path
        from app.services.app_services import services_of

        # The library's default is the bundled model whenever it is installed; naming it needs
        # no GGUF parsing (which would load numpy into an idle window).
        name = BUNDLED_NAME if bundled_model_path() is not None else None
        if name is None:
            from app.inference.library import ModelLibrary

            try:
                name = ModelLibrary(ctx.paths.models).default().name
            except UserFacingError:
                return []
        engine = LazyEngine(services_of(ctx).local_engine, name)
    names = await engine.model_names()
    return [ChatSource(f"This computer · {name}", engine, name, LOCAL_DETAIL) for name in names]


async def collect_sources(ctx: Any) -> list[ChatSource]:
    """Local models first, then every registered provider's; one failing provider is skipped."""
    sources: list[ChatSource] = []
    try:
        sources.extend(await local_sources(ctx))
    except Exception:
        log.exception("could not list local models")
    for provider in list(ctx.extras.get(SOURCE_PROVIDERS_KEY, [])):
        try:
            sources.extend(await provider())
        except Exception:
            log.exception("a chat source provider failed")
    return sources
