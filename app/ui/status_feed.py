"""Feeds the status bar from the running program: block height from the chain watcher of
``AppServices``, wallet state from ``AppContext.wallet``, network name from the settings.

Started once the window is up and the event loop runs (it loads the chain stack, web3 included,
which must not slow the first paint). It connects to the configured network in the background;
a failure only shows as "Not connected" with the reason in the tooltip.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, QTimer

from app.ui.app_state import register_shutdown
from app.ui.ops import Op

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

log = logging.getLogger(__name__)

WALLET_POLL_MS = 1000
RECONNECT_MS = 15_000  # while not connected, try again this often (one light request)


def wallet_state(wallet: Any) -> str:
    """``none`` / ``locked`` / ``unlocked`` for a WalletService (or None)."""
    if wallet is None:
        return "none"
    try:
        if wallet.is_unlocked:
            return "unlocked"
        return "locked" if wallet.exists() else "none"
    except Exception:  # a wallet mid-change must not break the status bar
        log.debug("wallet state unavailable", exc_info=True)
        return "none"


class StatusFeed(QObject):
    def __init__(self, window: MainWindow, *, connect: bool = True) -> None:
        super().__init__(window)
        from app.services.app_services import services_of
        from app.services.wallet_service import WalletService

        self.window = window
        self.ctx = window.ctx
        self.status = window.status_model
        if self.ctx.wallet is None:
            self.ctx.wallet = WalletService(self.ctx.paths)
        self.services = services_of(self.ctx)
        self.services.on_change(self._on_services)
        register_shutdown(self.ctx, self.services.stop)
        window.store.subscribe(self._on_settings)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.refresh_wallet)
        self._timer.start(WALLET_POLL_MS)
        self.refresh_wallet()
        self.connect_task: asyncio.Future[Any] | None = None
        if connect:
            self.connect_task = Op(self.services.connect(), self, name="connect").run()
        # Started offline, or the node was down: connect by itself once it is back, so the
        # "Not connected" line and the pages' errors go without a restart.
        self.reconnect_timer = QTimer(self)
        self.reconnect_timer.setInterval(RECONNECT_MS)
        self.reconnect_timer.timeout.connect(self.reconnect)
        if connect:
            self.reconnect_timer.start()
        # Nobody looks at a hidden or minimised window: the chain watcher slows down and the
        # wallet-state poll pauses until it shows again.
        window.installEventFilter(self)
        self._follow_window()

    def _follow_window(self) -> None:
        seen = self.window.isVisible() and not self.window.isMinimized()
        self.services.watch_pace.set_watched(seen)
        if seen and not self._timer.isActive():
            self.refresh_wallet()
            self._timer.start(WALLET_POLL_MS)
        elif not seen:
            self._timer.stop()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.Show, QEvent.Type.Hide, QEvent.Type.WindowStateChange):
            with contextlib.suppress(RuntimeError):  # the window is being destroyed
                self._follow_window()
        return False

    def reconnect(self) -> asyncio.Future[Any] | None:
        svc = self.services
        busy = self.connect_task is not None and not self.connect_task.done()
        if svc.chain is not None or busy:
            return None
        self.connect_task = Op(svc.connect(), self, name="reconnect").run()
        return self.connect_task

    def refresh_wallet(self) -> None:
        self.status.set_wallet_state(wallet_state(self.ctx.wallet))

    def _on_services(self, what: str) -> None:
        if what in ("chain", "block"):
            svc = self.services
            connected = svc.chain is not None and not svc.chain_error
            self.status.set_block(svc.block if connected and svc.block else None)
            self.window.block_status.setToolTip(svc.chain_error or "")
        elif what == "wallet":
            self.refresh_wallet()

    def _on_settings(self, _settings: Any, changed: frozenset[str]) -> None:
        if "network" in changed:
            # The old chain's height would be wrong under the new name.
            self.status.set_block(None)


def attach_status_feed(window: MainWindow) -> StatusFeed | None:
    """Start the feed; any failure is logged and leaves the status bar on its defaults."""
    try:
        return StatusFeed(window)
    except Exception:
        log.exception("status bar feed could not start")
        with contextlib.suppress(Exception):
            window.status_model.set_block(None)
        return None
