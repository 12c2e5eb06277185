""""Get free play money": fill a new wallet on the practice network from its own account."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from app.services.onboarding import fund_from_practice_network
from app.ui.ops import OpHost, show_error


class PlayMoney(QWidget):
    """The button and what it did; one send at a time, hidden once the money arrived."""

    def __init__(self, wallet: Callable[[], Any], host: OpHost, errors: QLabel,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._wallet = wallet
        self._host = host
        self._errors = errors
        self.task: asyncio.Task[Any] | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.button = QPushButton("Get free play money")
        self.button.setAccessibleName("Get free play money on the practice network")
        self.button.setAutoDefault(True)
        self.button.clicked.connect(self.get)
        lay.addWidget(self.button)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.hide()
        lay.addWidget(self.status)

    def get(self) -> asyncio.Task[Any] | None:
        if self.task is not None:  # a second click while the first send runs
            return self.task
        wallet = self._wallet()
        address = wallet.address
        if not address:
            return None
        self.button.setEnabled(False)
        show_error(self._errors, None)
        data_dir = wallet.paths.data

        async def run() -> None:
            try:
                eth, mor = await asyncio.to_thread(fund_from_practice_network, data_dir, address)
            except BaseException:
                self.button.setEnabled(True)
                raise
            finally:
                self.task = None
            self.status.setText(
                f"Sent {mor // 10**18} play MOR and {eth // 10**18} play ETH to your wallet."
            )
            self.status.show()
            self.button.hide()

        self.task = self._host.spawn(run(), self._errors)
        return self.task
