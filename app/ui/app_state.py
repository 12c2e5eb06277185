"""Shared objects the UI keeps in ``AppContext.extras``, fetched in one place.

Kept free of page imports so the main window can use it without loading any page module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from app.services.context import AppContext
from app.storage.settings import SettingsStore

SETTINGS_STORE = "settings_store"


def settings_store(ctx: AppContext) -> SettingsStore:
    """The context's store, opened on first use when the context was built without one."""
    store = ctx.extras.get(SETTINGS_STORE)
    if not isinstance(store, SettingsStore):
        store = SettingsStore.open(ctx.paths.settings_file)
        ctx.extras[SETTINGS_STORE] = store
        ctx.settings = store.settings
    return store


SHUTDOWN_HOOKS = "shutdown_hooks"
ShutdownHook = Callable[[], Awaitable[None]]


def register_shutdown(ctx: AppContext, hook: ShutdownHook) -> None:
    """Run ``await hook()`` when the program quits, before pending tasks are cancelled.

    Hooks run in registration order, each with a time limit (see ``launch.SHUTDOWN_TIMEOUT_S``),
    on the still-running event loop: the place to close sessions or stop a provider cleanly.
    """
    ctx.extras.setdefault(SHUTDOWN_HOOKS, []).append(hook)


def shutdown_hooks(ctx: AppContext) -> list[ShutdownHook]:
    hooks: list[ShutdownHook] = ctx.extras.get(SHUTDOWN_HOOKS, [])
    return list(hooks)
