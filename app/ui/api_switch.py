"""Runs the local OpenAI-compatible API as Settings' switch says, from launch on.

Why here and not in the Settings page: the API must run when the program starts with the switch
on, whichever page is open; the page only flips the setting and shows the state.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer

from app.services.context import AppContext
from app.storage.settings import Settings, SettingsStore
from app.ui.app_state import register_shutdown
from app.ui.ops import Op, _live_loop

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger(__name__)

API_KEY = "api_switch"
_WATCHED = frozenset({"api_enabled", "api_port"})
EARLY_RETRY_MS = 100
EARLY_TRIES = 100


class ApiSwitch(QObject):
    def __init__(
        self, ctx: AppContext, store: SettingsStore, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.store = store
        self.task: asyncio.Future[Any] | None = None
        self._early_tries = 0
        self._unsubscribe = store.subscribe(self._on_settings)
        register_shutdown(ctx, self._shutdown)
        if store.settings.api_enabled:
            QTimer.singleShot(0, self.apply)  # once the event loop runs

    def _on_settings(self, _settings: Settings, changed: frozenset[str]) -> None:
        if changed & _WATCHED:
            self.apply()

    def apply(self) -> asyncio.Future[Any] | None:
        """Start or stop the API to match the current settings (in order: one at a time)."""
        if _live_loop() is None:
            # Called before the asyncio loop runs (the launcher shows the window first): try
            # again shortly. A bare window in a test never gets a loop; it gives up after a while.
            self._early_tries += 1
            if self._early_tries <= EARLY_TRIES:
                QTimer.singleShot(EARLY_RETRY_MS, self.apply)
            return None
        import asyncio

        previous = self.task

        async def run() -> None:
            if previous is not None and not previous.done():
                await asyncio.wait([previous])
            from app.api.service import window_api

            s = self.store.settings
            await window_api(self.ctx).apply(bool(s.api_enabled), int(s.api_port))

        # Kept running if the window closes: a half-started server is stopped by the shutdown.
        self.task = Op(run(), self, name="local API switch").keep_running().run()
        return self.task

    async def _shutdown(self) -> None:
        self._unsubscribe()
        from app.api.service import window_api

        await window_api(self.ctx).stop()


def attach_api_switch(ctx: AppContext, store: SettingsStore, parent: QObject) -> ApiSwitch:
    switch = ApiSwitch(ctx, store, parent)
    ctx.extras[API_KEY] = switch
    return switch
