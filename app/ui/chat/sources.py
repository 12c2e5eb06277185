"""Where the chat page's model picker gets its entries: a list of "sources", each a label and a
``ChatEngine``. No Qt here.

Why a hook: local models exist now; models reached through open Morpheus sessions are added later
by the consumer side without touching the chat page — it registers a provider function with
:func:`add_source_provider` and the page calls :func:`collect_sources` when it refreshes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from app.api.router import LazyEngine
from app.errors import UserFacingError

if TYPE_CHECKING:
    from app.inference.types import ChatEngine

log = logging.getLogger(__name__)

SOURCE_PROVIDERS_KEY = "chat_source_providers"
LOCAL_DETAIL = "Free · runs on this computer, nothing leaves it"


class ChatSource(NamedTuple):  # (a NamedTuple: ~1 ms less than a dataclass at start-up)
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


def _lazy_default_engine(ctx: Any) -> LazyEngine | None:
    """The library's default model, started lazily through the app's shared services (the same
    engine "Share my GPU" uses); None when there is no model."""
    from app.inference.bundled import BUNDLED_NAME, bundled_model_path

    # The library's default is the bundled model whenever it is installed; naming it needs
    # no GGUF parsing (which would load numpy into an idle window).
    name = BUNDLED_NAME if bundled_model_path() is not None else None
    if name is None:
        from app.inference.library import ModelLibrary

        try:
            name = ModelLibrary(ctx.paths.models).default().name
        except UserFacingError:
            return None

    def start() -> Awaitable[ChatEngine]:
        # The app's services (and asyncio with them) load when a message is sent, not to list.
        from app.services.app_services import services_of

        return services_of(ctx).local_engine()

    return LazyEngine(start, name)


def _local(engine: ChatEngine, name: str) -> ChatSource:
    return ChatSource(f"This computer · {name}", engine, name, LOCAL_DETAIL)


async def local_sources(ctx: Any) -> list[ChatSource]:
    """The running local engine's models; else the library's default model (see
    :func:`_lazy_default_engine`)."""
    engine = getattr(ctx, "engine", None)
    if engine is None:
        engine = _lazy_default_engine(ctx)
        if engine is None:
            return []
    names = await engine.model_names()
    return [_local(engine, name) for name in names]


def sources_known_now(ctx: Any) -> list[ChatSource] | None:
    """What :func:`collect_sources` would list, when that needs no waiting: the usual launch,
    with no engine running yet and no other provider registered (the default model is listed by
    name). None when only the event loop can tell."""
    if getattr(ctx, "engine", None) is not None or ctx.extras.get(SOURCE_PROVIDERS_KEY):
        return None
    try:
        engine = _lazy_default_engine(ctx)
    except Exception:
        return None  # collect_sources logs it
    return [] if engine is None else [_local(engine, engine.name)]


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
