"""The Wallet page: receive (address, QR, copy), balances, send ETH/MOR, transfers, and the key's
safety actions (lock, password, recovery phrase, keystore export, automatic unlock).

Everything slow runs off the GUI thread: chain calls are coroutines on the qasync loop and the
password KDF (scrypt, ~1 s by design) runs in a worker thread through ``asyncio.to_thread``.
Wallet events may come from that worker, so the page only turns them into a queued Qt signal.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.errors import UserFacingError
from app.services.context import AppContext
from app.services.wallet_service import WalletService
from app.ui.a11y import named
from app.ui.ops import OpHost, error_label, show_error
from app.ui.wallet.balances import BalanceFollower
from app.ui.wallet.change_password import ChangePasswordDialog
from app.ui.wallet.history import fill_network, fill_sent, network_list, sent_list
from app.ui.wallet.password_prompt import PasswordPrompt
from app.ui.wallet.reveal_seed import RevealSeedDialog
from app.ui.wallet.secrets import selectable as _selectable
from app.ui.wallet.send_dialog import SendDialog
from app.ui.widgets.flip_row import FlipRow
from app.ui.widgets.qr import qr_pixmap
from app.wallet.store import DamagedWalletFile
from app.wallet.units import format_amount

log = logging.getLogger(__name__)

SETUP = "Set up a wallet…"


class WalletPage(QWidget):
    """Shown in the main window's sidebar as "Wallet"."""

    wallet_event = Signal(str)  # queued hop from whichever thread the wallet spoke on

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        if ctx.wallet is None:
            ctx.wallet = WalletService(ctx.paths)
        self.wallet: WalletService = ctx.wallet
        self.host = OpHost(self)
        self.open_url: Callable[[QUrl], bool] = QDesktopServices.openUrl
        self.send_dialog: SendDialog | None = None
        self.dialog: QDialog | None = None
        self.wizard: QWidget | None = None
        self.eth_wei: int | None = None
        self.mor_wei: int | None = None
        self.accounts_task: asyncio.Task[Any] | None = None
        self._accounts_shown: tuple[str, tuple[str, ...]] | None = None

        outer = QVBoxLayout(self)
        outer.setContentsMargins(24, 20, 24, 20)
        title = QLabel("Wallet")
        title.setProperty("role", "pageTitle")
        outer.addWidget(title)
        self.stack = QStackedWidget()
        outer.addWidget(self.stack, 1)
        self.errors = error_label()
        outer.addWidget(self.errors)

        self.empty_view = self._build_empty()
        self.locked_view = self._build_locked()
        self.main_view = self._build_main()
        for w in (self.empty_view, self.locked_view, self.main_view):
            self.stack.addWidget(w)

        self.wallet_event.connect(self._on_wallet_event)
        self._listener = self.wallet_event.emit
        self.wallet.add_listener(self._listener)
        # Balances follow the chain and the program's own transactions (app/ui/wallet/balances.py)
        self.balances = BalanceFollower(self)
        self.refresh_timer = self.balances.timer  # (the idle lock runs from launch: wallet_lock)
        self.update_view()
        self.auto_unlock_task = self._start_auto_unlock()

    def _start_auto_unlock(self) -> asyncio.Task[Any] | None:
        """Unlock with the remembered password (KDF in a worker) when the user asked for it."""
        if self.wallet.is_unlocked or self.wallet.address is None:
            return None
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # built outside the event loop (a plain script): stay locked
            return None
        return self.host.spawn(asyncio.to_thread(self.wallet.try_auto_unlock), self.unlock_errors)

    # ----- building ------------------------------------------------------------------------
    def _build_empty(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        msg = QLabel("There is no wallet on this computer yet. Create a new one or import yours.")
        msg.setWordWrap(True)
        lay.addWidget(msg)
        self.setup_button = QPushButton(SETUP)
        self.setup_button.clicked.connect(self.open_onboarding)
        lay.addWidget(self.setup_button)
        lay.addStretch(1)
        return w

    def _build_locked(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        self.locked_address = QLabel()
        self.locked_address.setTextInteractionFlags(
            self.locked_address.textInteractionFlags() | _selectable()
        )
        lay.addWidget(self.locked_address)
        lay.addWidget(QLabel("The wallet is locked. Enter your password to unlock it."))
        self.unlock_password = named(QLineEdit(), "Wallet password")
        self.unlock_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.unlock_password.setPlaceholderText("Wallet password")
        lay.addWidget(self.unlock_password)
        self.unlock_button = QPushButton("Unlock")
        lay.addWidget(self.unlock_button)
        self.unlock_errors = error_label()
        lay.addWidget(self.unlock_errors)
        lay.addStretch(1)
        self.unlock_button.clicked.connect(self.unlock)
        self.unlock_password.returnPressed.connect(self.unlock)
        return w

    def _build_main(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        top_row = FlipRow(820)  # address and balances side by side only where both fit
        top = top_row.box
        receive = QGroupBox("Receive")
        rl = QVBoxLayout(receive)
        self.qr_label = QLabel()
        rl.addWidget(self.qr_label)
        self.address_label = QLabel()
        self.address_label.setTextInteractionFlags(_selectable())
        rl.addWidget(self.address_label)
        self.copy_address_button = QPushButton("Copy address")
        self.copy_address_button.clicked.connect(self.copy_address)
        rl.addWidget(self.copy_address_button)
        self.account_picker = QComboBox()
        self.account_picker.setToolTip("Accounts from your recovery phrase")
        self.account_picker.activated.connect(self._account_chosen)
        rl.addWidget(self.account_picker)
        top.addWidget(receive)

        bal = QGroupBox("Balances")
        bl = QFormLayout(bal)
        self.mor_label = QLabel("…")
        self.eth_label = QLabel("…")
        bl.addRow("MOR", self.mor_label)
        bl.addRow("ETH (for network fees)", self.eth_label)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.send_button = QPushButton("Send…")
        self.send_button.clicked.connect(self.open_send)
        bl.addRow(self.refresh_button, self.send_button)
        top.addWidget(bal, 1)
        lay.addWidget(top_row)

        self.history = sent_list(lambda url: self.open_url(url))
        lay.addWidget(QLabel("Sent from this program"))
        lay.addWidget(self.history, 1)
        self.mor_history = network_list(lambda url: self.open_url(url))
        lay.addWidget(QLabel("MOR transfers on chain (recent blocks)"))
        lay.addWidget(self.mor_history, 1)

        safety = QHBoxLayout()
        self.lock_button = QPushButton("Lock")
        self.lock_button.clicked.connect(self.wallet.lock)
        self.password_button = QPushButton("Change password…")
        self.password_button.clicked.connect(self.open_change_password)
        self.reveal_button = named(QPushButton("Recovery phrase…"), "Show recovery phrase")
        self.reveal_button.clicked.connect(self.open_reveal)
        self.export_button = named(QPushButton("Backup file…"), "Save an encrypted backup file")
        self.export_button.clicked.connect(self.open_export)
        self.auto_unlock = QCheckBox("Unlock automatically on this computer")
        self.auto_unlock.clicked.connect(self._auto_unlock_clicked)
        for b in (self.lock_button, self.password_button, self.reveal_button, self.export_button):
            safety.addWidget(b)
        safety.addStretch(1)
        lay.addLayout(safety)
        lay.addWidget(self.auto_unlock)
        self.keyring_notice = QLabel()
        self.keyring_notice.setWordWrap(True)
        self.keyring_notice.setProperty("role", "hint")
        self.keyring_notice.hide()
        lay.addWidget(self.keyring_notice)
        return w

    # ----- state -----------------------------------------------------------------------------
    def _on_wallet_event(self, event: str) -> None:
        if event == "history":
            self.fill_history()
            return
        self.update_view()
        if event in ("unlocked", "changed"):
            self.refresh()

    def update_view(self) -> None:
        try:
            exists = self.wallet.exists()
            wf = self.wallet.load() if exists else None
        except UserFacingError as exc:
            show_error(self.errors, exc.message)
            self.stack.setCurrentWidget(self.empty_view)
            # A damaged wallet is restored from its backup (the wizard's import keeps a copy of
            # the damaged file); any other unreadable file must be moved away by hand first.
            restorable = isinstance(exc, DamagedWalletFile)
            self.setup_button.setText("Restore from your backup…" if restorable else SETUP)
            self.setup_button.setEnabled(restorable)
            return
        self.setup_button.setText(SETUP)
        self.setup_button.setEnabled(True)
        if notice := self.wallet.take_notice():
            show_error(self.errors, notice)
        if wf is None:
            self.stack.setCurrentWidget(self.empty_view)
            return
        if not self.wallet.is_unlocked:
            why = self.wallet.lock_reason
            self.locked_address.setText(f"Account {wf.address}" + (f"\n({why})" if why else ""))
            self.stack.setCurrentWidget(self.locked_view)
            return
        addr = str(self.wallet.address)
        if self.address_label.text() != addr:
            self.address_label.setText(addr)
            self.qr_label.setPixmap(qr_pixmap(f"ethereum:{addr}", 4))
        self.account_picker.blockSignals(True)
        self.account_picker.clear()
        for i, a in enumerate(wf.accounts):
            self.account_picker.addItem(f"Account {i + 1}: {a[:8]}…{a[-6:]}", i)
        self.account_picker.setCurrentIndex(wf.account_index if wf.kind == "hd" else 0)
        self.account_picker.setVisible(wf.kind == "hd")
        self.account_picker.blockSignals(False)
        shown = (addr, tuple(wf.accounts))
        if wf.kind == "hd" and self.wallet.chain is not None and shown != self._accounts_shown:
            self._accounts_shown = shown
            self.accounts_task = self.host.spawn(
                self._account_balances(list(wf.accounts)), self.errors
            )
        self.reveal_button.setEnabled(wf.kind == "hd")
        self.auto_unlock.setChecked(self.wallet.remember_state())
        self.stack.setCurrentWidget(self.main_view)
        self.fill_history()

    async def _account_balances(self, accounts: list[str]) -> None:
        """Show each picker account with its MOR balance (once per unlock, not on every tick)."""
        for i, addr in enumerate(accounts):
            b = await self.wallet.balances(addr)
            if i < self.account_picker.count() and self.account_picker.itemData(i) == i:
                self.account_picker.setItemText(
                    i,
                    f"Account {i + 1}: {addr[:8]}…{addr[-6:]} · "
                    f"{format_amount(b.mor, b.mor_decimals, 4)} MOR",
                )

    def balances_text(self) -> tuple[str, str]:
        return self.mor_label.text(), self.eth_label.text()

    # ----- actions ---------------------------------------------------------------------------
    def unlock(self) -> asyncio.Task[Any] | None:
        pw = self.unlock_password.text()
        self.unlock_button.setEnabled(False)

        async def run() -> None:
            try:
                await asyncio.to_thread(self.wallet.unlock, pw)
                self.unlock_password.clear()
            finally:
                self.unlock_button.setEnabled(True)

        return self.host.spawn(run(), self.unlock_errors)

    def refresh(self) -> asyncio.Task[Any] | None:
        """Read balances and both lists now (a Refresh press; the rest follows by itself)."""
        return self.balances.refresh()

    @property
    def refresh_task(self) -> asyncio.Task[Any] | None:
        return self.balances.task

    def fill_history(self) -> None:
        fill_sent(self.history, self.wallet.history(), self.wallet.explorer_tx_url)

    def fill_mor_history(self, transfers: list[Any]) -> None:
        fill_network(
            self.mor_history, transfers, self.wallet.address or "", self.wallet.explorer_tx_url
        )

    def copy_address(self) -> None:
        QGuiApplication.clipboard().setText(self.address_label.text())

    def open_send(self) -> SendDialog:
        dlg = SendDialog(self.wallet, self)
        dlg.sent.connect(lambda _rec: self.refresh())
        self.send_dialog = dlg
        dlg.open()
        return dlg

    def open_reveal(self) -> RevealSeedDialog:
        dlg = RevealSeedDialog(self.wallet, self)
        self.dialog = dlg
        dlg.open()
        return dlg

    def open_change_password(self) -> QDialog:
        dlg = ChangePasswordDialog(self.wallet, self)
        self.dialog = dlg
        dlg.open()
        return dlg

    def open_export(self) -> PasswordPrompt:
        def export(password: str) -> dict[str, Any]:
            return self.wallet.export_keystore(password)

        dlg = PasswordPrompt(
            "Export keystore",
            "The keystore file is encrypted with your wallet password. Enter it to continue.",
            export,
            self,
        )
        dlg.accepted.connect(lambda: self._save_keystore(dlg.result_value))
        self.dialog = dlg
        dlg.open()
        return dlg

    def _save_keystore(self, keystore: dict[str, Any] | None) -> None:
        if not keystore:
            return
        name = f"UTC--keystore--{keystore.get('address', 'wallet')}.json"
        path, _ = QFileDialog.getSaveFileName(self, "Save keystore", str(Path.home() / name))
        if path:
            from app.fileio import atomic_write_text

            atomic_write_text(Path(path), json.dumps(keystore))

    def _account_chosen(self, row: int) -> None:
        index = self.account_picker.itemData(row)
        wf = self.wallet.load()
        if index is None or index == wf.account_index:
            return
        dlg = PasswordPrompt(
            "Switch account",
            f"Enter your password to use account {int(index) + 1}.",
            lambda pw: self.wallet.select_account(int(index), pw),
            self,
        )
        dlg.rejected.connect(self.update_view)
        self.dialog = dlg
        dlg.open()

    def _auto_unlock_clicked(self, checked: bool) -> None:
        if not checked:
            self.wallet.set_remember(False)
            self.keyring_notice.hide()
            return

        dlg = PasswordPrompt(
            "Unlock automatically",
            "Enter your password so this computer can remember it.",
            lambda pw: self.wallet.set_remember(True, pw),
            self,
        )

        def done() -> None:
            kind = dlg.result_value
            notice = getattr(kind, "notice", None)
            self.keyring_notice.setText(notice or "")
            self.keyring_notice.setVisible(bool(notice))
            self.auto_unlock.setChecked(True)

        dlg.accepted.connect(done)
        dlg.rejected.connect(lambda: self.auto_unlock.setChecked(False))
        self.dialog = dlg
        dlg.open()

    def open_onboarding(self) -> QWidget:
        """The create/restore steps, inside the main window (app.ui.welcome), never a window."""
        from app.ui.welcome.host import open_wallet_setup

        wiz = open_wallet_setup(self.ctx, self.wallet, self.stack, self.update_view)
        wiz.finished_with_network.connect(self._onboarding_done)
        self.wizard = wiz
        return wiz

    def _onboarding_done(self, network: str) -> None:
        try:
            from app.ui.app_state import settings_store

            settings_store(self.ctx).update(network=network)
        except Exception:  # settings are another page's business; the wallet is saved anyway
            log.exception("could not save the network chosen during onboarding")
        self.update_view()

    def closeEvent(self, event: Any) -> None:
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop timers, forget the wallet listener and cancel running work (page going away)."""
        self.balances.stop()
        self.wallet.remove_listener(self._listener)
        self.host.cancel_all()


