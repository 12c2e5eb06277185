"""The welcome page: the set-up steps as a page of the main window's own stack.

Shown by ``MainWindow.show_welcome`` on a first start (no wallet, welcome never finished or
skipped) and from the Wallet page's "Set up a wallet" button; never a window of its own. It keeps
no state of its own beyond the flow: leaving it (any way, Quit included) writes nothing but what
the flow already saved whole.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.services.context import AppContext
from app.services.first_start import mark_welcome_done
from app.services.onboarding import available_networks
from app.ui.placeholder import page_title, scroll_body
from app.ui.wallet.onboarding import OnboardingWizard
from app.ui.welcome import texts

if TYPE_CHECKING:
    from app.services.wallet_service import WalletService

log = logging.getLogger(__name__)

MAX_WIDTH = 720  # a readable column on wide windows; narrower windows get all their width


class WelcomePage(QWidget):
    """``leave`` carries where to go next: "chat", "chat-local" (try the local model),
    "wallet"."""

    leave = Signal(str)

    def __init__(self, ctx: AppContext, *, first_run: bool,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcomePage")
        self.ctx = ctx
        self.first_run = first_run
        self.wizard = OnboardingWizard(
            self._wallet,  # made on the first wallet step: the page shows before the key stack
            networks=available_networks(ctx.paths.data),
            first_run=first_run,
            cancellable=not first_run,
        )
        body = QWidget()
        column = QVBoxLayout()
        column.setContentsMargins(24, 20, 24, 20)
        self.title: QLabel = page_title(texts.TITLE if first_run else "Set up your wallet")
        self.title.setWordWrap(True)
        column.addWidget(self.title)
        column.addWidget(self.wizard, 1)
        inner = QWidget()
        inner.setLayout(column)
        inner.setMaximumWidth(MAX_WIDTH)
        row = QHBoxLayout(body)
        row.setContentsMargins(0, 0, 0, 0)
        row.addStretch(0)
        row.addWidget(inner, 1)
        row.addStretch(0)
        self.scroll_area = scroll_body(self, body)

        w = self.wizard
        w.try_local.connect(lambda: self._done_and_leave("chat-local"))
        w.skipped.connect(lambda: self._done_and_leave("chat"))
        w.cancelled.connect(lambda: self.leave.emit("wallet"))
        w.finished_with_network.connect(self._save_network)
        w.leave_to.connect(self._done_and_leave)

    def _wallet(self) -> WalletService:
        """The program's one wallet service (the status feed and the Wallet page share it)."""
        if self.ctx.wallet is None:
            from app.services.wallet_service import WalletService

            self.ctx.wallet = WalletService(self.ctx.paths)
        wallet: WalletService = self.ctx.wallet
        return wallet

    def _store(self):  # the settings store the window uses (None in a bare test context)
        from app.ui.app_state import settings_store

        try:
            return settings_store(self.ctx)
        except Exception:
            log.exception("no settings store to remember the welcome in")
            return None

    def _save_network(self, key: str) -> None:
        store = self._store()
        if store is None:
            return
        try:
            store.update(network=key)
        except Exception:  # the wallet is saved; the network can be chosen again in Settings
            log.exception("could not save the network chosen in the welcome steps")
        self._mark_done()

    def _mark_done(self) -> None:
        store = self._store()
        if store is None:
            return
        try:
            mark_welcome_done(store)
        except OSError as exc:  # the steps show again next time; nothing else is lost
            log.warning("could not remember that the welcome is done: %s", exc)

    def _done_and_leave(self, target: str) -> None:
        self._mark_done()
        self.leave.emit(target)
