"""The "I already have a wallet" step: a recovery phrase, a private key or a keystore file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.errors import UserFacingError
from app.services.onboarding import OnboardingFlow


def wrapped(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    return label


class ImportStep(QWidget):
    """Tabs for the three kinds of backup; "Continue" once one of them checked out."""

    def __init__(self, flow: OnboardingFlow, show_error: Callable[[str | None], None],
                 act: Callable[..., bool], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.flow = flow
        self._show_error = show_error
        lay = QVBoxLayout(self)
        lay.addWidget(wrapped("Restore the wallet you already have from its backup."))
        self.tabs = QTabWidget()
        self.tabs.setAccessibleName("Kind of backup")
        self.tabs.tabBar().setAccessibleName("Kind of backup")
        # recovery phrase
        phrase_tab = QWidget()
        pl = QVBoxLayout(phrase_tab)
        pl.addWidget(wrapped("Type or paste your 12 or 24 words, separated by spaces."))
        self.phrase_edit = QPlainTextEdit()
        self.phrase_edit.setAccessibleName("Recovery phrase")
        self.phrase_edit.setTabChangesFocus(True)
        self.phrase_edit.setMaximumHeight(90)
        pl.addWidget(self.phrase_edit)
        self.check_phrase_button = QPushButton("Check the words")
        self.check_phrase_button.clicked.connect(self.check_phrase)
        pl.addWidget(self.check_phrase_button)
        pl.addWidget(QLabel("Account to use:"))
        self.account_list = QListWidget()
        self.account_list.setAccessibleName("Account to use")
        self.account_list.setMaximumHeight(120)  # ten short lines, scrolled: fits 800x600
        self.account_list.currentRowChanged.connect(self._account_row)
        pl.addWidget(self.account_list)
        self.tabs.addTab(phrase_tab, "Recovery phrase")
        # private key
        key_tab = QWidget()
        kl = QVBoxLayout(key_tab)
        self.key_edit = QLineEdit()
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setPlaceholderText("64 hexadecimal characters")
        self.key_edit.setAccessibleName("Private key")
        kl.addWidget(self.key_edit)
        self.check_key_button = QPushButton("Use this key")
        self.check_key_button.clicked.connect(
            lambda: self._single(self.flow.import_private_key, self.key_edit.text())
        )
        kl.addWidget(self.check_key_button)
        kl.addStretch(1)
        self.tabs.addTab(key_tab, "Private key")
        # keystore
        ks_tab = QWidget()
        kf = QFormLayout(ks_tab)
        file_row = QHBoxLayout()
        self.keystore_path = QLineEdit()
        self.keystore_path.setAccessibleName("Keystore file")
        browse = QPushButton("Choose\u2026")
        browse.setAccessibleName("Choose the keystore file")
        browse.clicked.connect(self._browse)
        file_row.addWidget(self.keystore_path, 1)
        file_row.addWidget(browse)
        kf.addRow("Keystore file", file_row)
        self.keystore_password = QLineEdit()
        self.keystore_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.keystore_password.setAccessibleName("The keystore file's password")
        kf.addRow("Its password", self.keystore_password)
        self.check_keystore_button = QPushButton("Open keystore")
        self.check_keystore_button.clicked.connect(self._open_keystore)
        kf.addRow(self.check_keystore_button)
        self.tabs.addTab(ks_tab, "Keystore file")
        lay.addWidget(self.tabs)
        self.status = wrapped("")
        lay.addWidget(self.status)
        self.next_button = QPushButton("Continue")
        self.next_button.setEnabled(False)
        self.next_button.setAutoDefault(True)
        self.next_button.clicked.connect(lambda: act(self.flow.import_done))
        lay.addWidget(self.next_button)

    def check_phrase(self) -> None:
        self.account_list.clear()
        self.next_button.setEnabled(False)
        self._show_error(None)
        try:
            accounts = self.flow.import_mnemonic(self.phrase_edit.toPlainText())
        except UserFacingError as exc:
            self._show_error(exc.message)
            return
        for i, a in enumerate(accounts):
            self.account_list.addItem(f"{i + 1}. {a}")
        self.account_list.setCurrentRow(0)
        self.status.setText("The recovery phrase is valid. Choose the account to use.")
        self.next_button.setEnabled(True)

    def _account_row(self, row: int) -> None:
        if row < 0:
            return
        try:
            self.flow.choose_account(row)
        except UserFacingError as exc:
            self._show_error(exc.message)

    def _single(self, fn: Callable[..., str], *args: Any) -> None:
        self.next_button.setEnabled(False)
        self._show_error(None)
        try:
            address = fn(*args)
        except UserFacingError as exc:
            self._show_error(exc.message)
            return
        self.status.setText(f"Account {address} is ready to restore.")
        self.next_button.setEnabled(True)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Keystore file", str(Path.home()))
        if path:
            self.keystore_path.setText(path)

    def _open_keystore(self) -> None:
        try:
            text = Path(self.keystore_path.text().strip()).read_bytes()
        except OSError as exc:
            self._show_error(f"The file could not be read: {exc.strerror or exc}.")
            return
        self._single(self.flow.import_keystore, text, self.keystore_password.text())
