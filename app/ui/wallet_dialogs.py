"""The Wallet page's building blocks: error labels, the task host that runs coroutines for a
widget, and the dialogs (password prompt, recovery phrase, send, change password).

Split from ``wallet_page`` so each file stays readable; other pages reuse ``TaskHost`` and
``error_label`` from here.
"""


from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.errors import UserFacingError
from app.services.wallet_service import SendPreview, TxRecord, WalletService
from app.ui.clipboard import SECRET_CLEAR_MS, copy_secret
from app.wallet.errors import FeeRose
from app.wallet.units import format_amount

log = logging.getLogger(__name__)
T = TypeVar("T")

CLIPBOARD_CLEAR_MS = SECRET_CLEAR_MS


def error_label() -> QLabel:
    label = QLabel()
    label.setProperty("role", "error")
    label.setWordWrap(True)
    label.setStyleSheet("color: #c62828;")
    label.hide()
    return label


def show_error(label: QLabel, text: str | None) -> None:
    label.setText(text or "")
    label.setVisible(bool(text))


class TaskHost:
    """Starts coroutines from slots, keeps them referenced, and shows their errors in a label."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()
        self.last_task: asyncio.Task[Any] | None = None

    def spawn(self, coro: Coroutine[Any, Any, T], errors: QLabel) -> asyncio.Task[T | None]:
        show_error(errors, None)
        task = asyncio.ensure_future(self._guard(coro, errors))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        self.last_task = task
        return task

    def cancel_all(self) -> None:
        for task in list(self.tasks):
            task.cancel()

    @staticmethod
    async def _guard(coro: Awaitable[T], errors: QLabel) -> T | None:
        try:
            return await coro
        except UserFacingError as exc:
            log.info("wallet: %s", exc.message)
            show_error(errors, exc.message)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("wallet action failed")
            show_error(errors, "Something went wrong. The details are in the log.")
        return None


def copy_secret_to_clipboard(text: str, clear_after_ms: int = CLIPBOARD_CLEAR_MS) -> None:
    """Copy, then wipe the clipboard after a minute unless something else was copied since."""
    copy_secret(text, clear_after_ms)


class PasswordPrompt(QDialog):
    """Asks for the wallet password and runs ``action(password)`` in a worker thread."""

    def __init__(
        self, title: str, prompt: str, action: Callable[[str], Any], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.host = TaskHost()
        self.result_value: Any = None
        self._action = action
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel(prompt))
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        lay.addWidget(self.password)
        self.errors = error_label()
        lay.addWidget(self.errors)
        row = QHBoxLayout()
        self.ok_button = QPushButton("OK")
        self.ok_button.setDefault(True)
        cancel = QPushButton("Cancel")
        row.addStretch(1)
        row.addWidget(cancel)
        row.addWidget(self.ok_button)
        lay.addLayout(row)
        self.ok_button.clicked.connect(self._ok)
        self.password.returnPressed.connect(self._ok)
        cancel.clicked.connect(self.reject)

    def _ok(self) -> None:
        self.ok_button.setEnabled(False)
        self.host.spawn(self._run(self.password.text()), self.errors)

    async def _run(self, password: str) -> None:
        try:
            self.result_value = await asyncio.to_thread(self._action, password)
        finally:
            self.ok_button.setEnabled(True)
        self.accept()


class RevealSeedDialog(QDialog):
    """The recovery phrase behind the password; copying it clears the clipboard after a minute."""

    def __init__(self, wallet: WalletService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Secret Recovery Phrase")
        self.wallet = wallet
        self.host = TaskHost()
        self.clipboard_clear_ms = CLIPBOARD_CLEAR_MS
        self._phrase = ""
        lay = QVBoxLayout(self)
        warn = QLabel(
            "Anyone who sees these words can take everything in this wallet. Never type them "
            "into a website and never share them, not even with support."
        )
        warn.setWordWrap(True)
        lay.addWidget(warn)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("Wallet password")
        lay.addWidget(self.password)
        self.reveal_button = QPushButton("Show the words")
        lay.addWidget(self.reveal_button)
        self.words_box = QWidget()
        self.words_grid = QGridLayout(self.words_box)
        self.words_box.hide()
        lay.addWidget(self.words_box)
        self.copy_button = QPushButton("Copy (clipboard is cleared after 1 minute)")
        self.copy_button.hide()
        lay.addWidget(self.copy_button)
        self.errors = error_label()
        lay.addWidget(self.errors)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        lay.addWidget(close)
        self.reveal_button.clicked.connect(self._reveal)
        self.password.returnPressed.connect(self._reveal)
        self.copy_button.clicked.connect(self.copy)

    def _reveal(self) -> None:
        self.host.spawn(self._do_reveal(self.password.text()), self.errors)

    async def _do_reveal(self, password: str) -> None:
        phrase = await asyncio.to_thread(self.wallet.reveal_mnemonic, password)
        self._phrase = phrase
        self.password.clear()
        for i, word in enumerate(phrase.split()):
            self.words_grid.addWidget(QLabel(f"{i + 1}. {word}"), i // 4, i % 4)
        self.words_box.show()
        self.copy_button.show()
        self.reveal_button.hide()
        self.password.hide()

    def shown_words(self) -> list[str]:
        out = []
        for i in range(self.words_grid.count()):
            item = self.words_grid.itemAt(i)
            w = item.widget() if item is not None else None
            if isinstance(w, QLabel):
                out.append(w.text().split(". ", 1)[1])
        return out

    def copy(self) -> None:
        if self._phrase:
            copy_secret_to_clipboard(self._phrase, self.clipboard_clear_ms)

    def done(self, r: int) -> None:  # forget the words when the dialog closes
        self._phrase = ""
        super().done(r)


class SendDialog(QDialog):
    """Send ETH or MOR: check the address and amount, preview the fee, then send."""

    sent = Signal(object)  # TxRecord

    def __init__(self, wallet: WalletService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Send")
        self.wallet = wallet
        self.host = TaskHost()
        self.preview: SendPreview | None = None
        self.record: TxRecord | None = None
        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.asset = QComboBox()
        self.asset.addItems(["MOR", "ETH"])
        form.addRow("Token", self.asset)
        self.to = QLineEdit()
        self.to.setPlaceholderText("0x…")
        form.addRow("To", self.to)
        amount_row = QHBoxLayout()
        self.amount = QLineEdit()
        self.amount.setPlaceholderText("0.0")
        self.max_button = QPushButton("Max")
        amount_row.addWidget(self.amount, 1)
        amount_row.addWidget(self.max_button)
        form.addRow("Amount", amount_row)
        lay.addLayout(form)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #b26a00;")
        self.warning.hide()
        lay.addWidget(self.warning)
        self.errors = error_label()
        lay.addWidget(self.errors)
        row = QHBoxLayout()
        self.review_button = QPushButton("Review")
        self.send_button = QPushButton("Send")
        self.send_button.setEnabled(False)
        cancel = QPushButton("Cancel")
        row.addStretch(1)
        row.addWidget(cancel)
        row.addWidget(self.review_button)
        row.addWidget(self.send_button)
        lay.addLayout(row)
        cancel.clicked.connect(self.reject)
        self.review_button.clicked.connect(self.review)
        self.send_button.clicked.connect(self.send)
        self.max_button.clicked.connect(self.fill_max)
        for sig in (self.to.textEdited, self.amount.textEdited):
            sig.connect(self._invalidate)
        self.asset.currentTextChanged.connect(self._invalidate)

    def _invalidate(self, *_: object) -> None:
        self.preview = None
        self.send_button.setEnabled(False)
        self.summary.clear()
        self.warning.hide()
        show_error(self.errors, None)

    def fill_max(self) -> asyncio.Task[Any]:
        return self.host.spawn(self._fill_max(), self.errors)

    async def _fill_max(self) -> None:
        asset = self.asset.currentText()
        decimals = 18 if asset == "ETH" else (await self.wallet.balances()).mor_decimals
        to = self.to.text().strip() or None
        amount = await self.wallet.max_sendable(asset, to)  # type: ignore[arg-type]
        self.amount.setText(format_amount(amount, decimals))
        self._invalidate()

    def review(self) -> asyncio.Task[Any]:
        self._invalidate()
        return self.host.spawn(self._review(), self.errors)

    async def _review(self) -> None:
        asset = self.asset.currentText()
        p = await self.wallet.prepare_send(asset, self.to.text(), self.amount.text())  # type: ignore[arg-type]
        self.preview = p
        d = p.decimals
        lines = [
            f"Send {format_amount(p.amount, d)} {asset} to {p.to}",
            f"Network fee: up to {format_amount(p.fee.max_cost)} ETH",
            f"{asset} after: {format_amount(max(p.asset_after, 0), d)} {asset}",
        ]
        if asset != "ETH":
            lines.append(f"ETH after: {format_amount(max(p.eth_after, 0))} ETH")
        self.summary.setText("\n".join(lines))
        warning = p.gas_warning()
        self.warning.setText(warning or "")
        self.warning.setVisible(bool(warning))
        self.send_button.setEnabled(not p.gas_missing)

    def send(self) -> asyncio.Task[Any] | None:
        if self.preview is None:
            return None
        self.send_button.setEnabled(False)
        self.review_button.setEnabled(False)
        return self.host.spawn(self._send(self.preview), self.errors)

    async def _send(self, preview: SendPreview) -> None:
        try:
            self.record = await self.wallet.send(preview)
        except FeeRose:
            await self._review()  # show the new fee; Send confirms it (the error says why)
            raise
        finally:
            self.review_button.setEnabled(True)
        self.sent.emit(self.record)
        self.accept()


class ChangePasswordDialog(QDialog):
    def __init__(self, wallet: WalletService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Change password")
        self.wallet = wallet
        self.host = TaskHost()
        form = QFormLayout(self)
        self.old = QLineEdit()
        self.new = QLineEdit()
        self.confirm = QLineEdit()
        for e in (self.old, self.new, self.confirm):
            e.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow("Current password", self.old)
        form.addRow("New password", self.new)
        form.addRow("New password again", self.confirm)
        self.errors = error_label()
        form.addRow(self.errors)
        self.ok_button = QPushButton("Change password")
        form.addRow(self.ok_button)
        self.ok_button.clicked.connect(self._ok)

    def _ok(self) -> asyncio.Task[Any]:
        old, new, confirm = self.old.text(), self.new.text(), self.confirm.text()

        async def run() -> None:
            await asyncio.to_thread(self.wallet.change_password, old, new, confirm)
            self.accept()

        return self.host.spawn(run(), self.errors)


def _selectable() -> Any:
    from PySide6.QtCore import Qt

    return Qt.TextInteractionFlag.TextSelectableByMouse
