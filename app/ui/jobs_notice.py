"""The window's side of the background payments: says what a locked wallet holds up (notice bar
and tray notification), rebuilds the services at once when the network changes in Settings, and
asks before quitting with sessions open (close now and get the stake back, or keep them open).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject

from app.ui.ops import Op
from app.ui.quit_dialog import QuitDialog

if TYPE_CHECKING:
    from app.services.app_services import AppServices
    from app.ui.main_window import MainWindow

log = logging.getLogger(__name__)


class JobsNotice(QObject):
    def __init__(self, window: MainWindow, services: AppServices) -> None:
        super().__init__(window)
        self.window = window
        self.services = services
        self.last_text = ""
        self.switch_task: asyncio.Future[Any] | None = None
        self.dialog: QuitDialog | None = None
        services.on_change(self._on_services)
        self._unsubscribe = window.store.subscribe(self._on_settings)
        window.quit_guard = self.guard_quit

    # -- the locked-wallet notice ------------------------------------------------------------

    def _on_services(self, what: str) -> None:
        if what not in ("jobs", "wallet", "block"):
            return
        waiting = self.services.waiting_for_unlock()
        text = waiting.text if waiting is not None else ""
        if not text and self.services.supervisor_error:
            text = self.services.supervisor_error
        sup = self.services.supervisor
        if not text and sup is not None and sup.clock_notice:
            text = sup.clock_notice
        if text and text != self.last_text:
            self.window.show_notice(text)
            self.window.tray.notify("Morpheus Desktop", text)
        elif not text and self.last_text:
            self.window.notice_bar.hide()
        self.last_text = text

    # -- switching network -------------------------------------------------------------------

    def _on_settings(self, _settings: Any, changed: frozenset[str]) -> None:
        if changed & {"network", "custom_rpc_urls"}:
            self.switch_task = Op(self.services.switch_network(), self,
                                  name="switch network").run()

    # -- quitting with sessions open ---------------------------------------------------------

    def guard_quit(self, proceed: Any) -> bool:
        """Called by the window before it quits: True when a dialog took over (it calls
        ``proceed`` itself once the user has chosen and any closing is finished)."""
        sessions = self.services.open_sessions()
        if not sessions or self.dialog is not None:
            return False
        consumer = self.services.supervisor.consumer if self.services.supervisor else None
        if consumer is None:
            return False
        self.dialog = QuitDialog(self.window, sessions, consumer.close_session)

        def finished(result: int) -> None:
            self.dialog = None
            proceed(result == int(QuitDialog.DialogCode.Accepted))

        self.dialog.finished.connect(finished)
        self.dialog.open()
        return True

    def dispose(self) -> None:
        with contextlib.suppress(Exception):
            self._unsubscribe()
