"""Send ETH or MOR: check the address and amount, preview the fee, then send."""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.services.wallet_service import SendPreview, TxRecord, WalletService
from app.ui.a11y import named
from app.ui.ops import OpHost, error_label, show_error
from app.wallet.errors import FeeRose
from app.wallet.units import format_amount


class SendDialog(QDialog):
    """Send ETH or MOR: check the address and amount, preview the fee, then send."""

    sent = Signal(object)  # TxRecord

    def __init__(self, wallet: WalletService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Send")
        self.wallet = wallet
        self.host = OpHost(self)
        self.preview: SendPreview | None = None
        self.record: TxRecord | None = None
        self.send_task: asyncio.Task[Any] | None = None
        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.asset = QComboBox()
        self.asset.addItems(["MOR", "ETH"])
        form.addRow("Token", self.asset)
        self.to = named(QLineEdit(), "Send to address")
        self.to.setPlaceholderText("0x…")
        form.addRow("To", self.to)
        amount_row = QHBoxLayout()
        self.amount = named(QLineEdit(), "Amount to send")
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

    def fill_max(self) -> asyncio.Task[Any] | None:
        return self.host.spawn(self._fill_max(), self.errors)

    async def _fill_max(self) -> None:
        asset = self.asset.currentText()
        decimals = 18 if asset == "ETH" else (await self.wallet.balances()).mor_decimals
        to = self.to.text().strip() or None
        amount = await self.wallet.max_sendable(asset, to)  # type: ignore[arg-type]
        self.amount.setText(format_amount(amount, decimals))
        self._invalidate()

    def review(self) -> asyncio.Task[Any] | None:
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
        """One transaction per reviewed transfer: a second click (a double click, Enter pressed
        twice) while it is being sent gets the same send, never another one."""
        if self.send_task is not None and not self.send_task.done():
            return self.send_task
        if self.preview is None:
            return None
        preview, self.preview = self.preview, None  # spent: a new send needs a new review
        self.send_button.setEnabled(False)
        self.review_button.setEnabled(False)
        self.send_task = self.host.spawn(self._send(preview), self.errors, keep_running=True)
        return self.send_task

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
