"""The recovery phrase behind the password; a copy leaves the clipboard after a minute."""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import (
    QDialog,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.services.wallet_service import WalletService
from app.ui.a11y import named
from app.ui.ops import OpHost, error_label
from app.ui.wallet.secrets import CLIPBOARD_CLEAR_MS, copy_secret_to_clipboard


class RevealSeedDialog(QDialog):
    """The recovery phrase behind the password; copying it clears the clipboard after a minute."""

    def __init__(self, wallet: WalletService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Secret Recovery Phrase")
        self.wallet = wallet
        self.host = OpHost(self)
        self.clipboard_clear_ms = CLIPBOARD_CLEAR_MS
        self._phrase = ""
        lay = QVBoxLayout(self)
        warn = QLabel(
            "Anyone who sees these words can take everything in this wallet. Never type them "
            "into a website and never share them, not even with support."
        )
        warn.setWordWrap(True)
        lay.addWidget(warn)
        self.password = named(QLineEdit(), "Wallet password")
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
