"""Asks for the wallet password, then runs an action with it off the GUI thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.ops import OpHost, error_label


class PasswordPrompt(QDialog):
    """Asks for the wallet password and runs ``action(password)`` in a worker thread."""

    def __init__(
        self, title: str, prompt: str, action: Callable[[str], Any], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.host = OpHost(self)
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
