"""Change the wallet password (the key derivation runs in a worker thread)."""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtWidgets import QDialog, QFormLayout, QLineEdit, QPushButton, QWidget

from app.services.wallet_service import WalletService
from app.ui.ops import OpHost, error_label


class ChangePasswordDialog(QDialog):
    def __init__(self, wallet: WalletService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Change password")
        self.wallet = wallet
        self.host = OpHost(self)
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

    def _ok(self) -> asyncio.Task[Any] | None:
        old, new, confirm = self.old.text(), self.new.text(), self.confirm.text()

        async def run() -> None:
            await asyncio.to_thread(self.wallet.change_password, old, new, confirm)
            self.accept()

        return self.host.spawn(run(), self.errors, keep_running=True)
