"""The first-run wizard's widgets: one page per ``OnboardingFlow`` step, nothing more.

All decisions (what comes next, what is valid) live in ``app.services.onboarding``; these pages
show the flow's state and forward clicks. Saving the wallet (scrypt) runs in a worker thread.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.errors import UserFacingError
from app.services.onboarding import NetworkChoice, OnboardingFlow, Step
from app.services.wallet_service import WalletService
from app.ui.ops import OpHost, error_label, show_error


def _wrap(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    return label


class OnboardingWizard(QWidget):
    """Welcome → create (words, confirm) or import → password → network → done."""

    finished_with_network = Signal(str)

    def __init__(
        self,
        wallet: WalletService,
        *,
        networks: tuple[NetworkChoice, ...] | None = None,
        flow: OnboardingFlow | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Set up your wallet")
        self.flow = flow or (
            OnboardingFlow(wallet, networks=networks) if networks else OnboardingFlow(wallet)
        )
        self.host = OpHost(self)
        lay = QVBoxLayout(self)
        self.stack = QStackedWidget()
        lay.addWidget(self.stack, 1)
        self.errors = error_label()
        lay.addWidget(self.errors)
        nav = QHBoxLayout()
        self.back_button = QPushButton("Back")
        self.back_button.clicked.connect(self.go_back)
        nav.addWidget(self.back_button)
        nav.addStretch(1)
        lay.addLayout(nav)

        self.pages: dict[Step, QWidget] = {
            Step.WELCOME: self._welcome(),
            Step.CREATE_SHOW: self._show_words(),
            Step.CREATE_CONFIRM: self._confirm(),
            Step.IMPORT: self._import(),
            Step.PASSWORD: self._password(),
            Step.NETWORK: self._network(),
            Step.DONE: self._done(),
        }
        for page in self.pages.values():
            self.stack.addWidget(page)
        self.sync()

    # ----- mapping state to pages ------------------------------------------------------------
    def sync(self) -> None:
        step = self.flow.step
        if step == Step.CREATE_SHOW:
            self._fill_words()
        elif step == Step.CREATE_CONFIRM:
            self._fill_confirm()
        elif step == Step.DONE:
            notice = self.flow.keyring_notice
            self.done_notice.setText(notice or "")
            self.done_notice.setVisible(bool(notice))
        self.stack.setCurrentWidget(self.pages[step])
        self.back_button.setVisible(self.flow.can_go_back())

    def current_step(self) -> Step:
        return self.flow.step

    def _act(self, fn: Any, *args: Any) -> bool:
        show_error(self.errors, None)
        try:
            fn(*args)
        except UserFacingError as exc:
            show_error(self.errors, exc.message)
            return False
        self.sync()
        return True

    def go_back(self) -> None:
        self._act(self.flow.back)

    # ----- pages ----------------------------------------------------------------------------
    def _welcome(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.addWidget(
            _wrap(
                "Welcome to Morpheus. Your wallet holds the MOR you spend on AI and "
                "the ETH that pays network fees. Only you hold its keys."
            )
        )
        self.create_button = QPushButton("Create a new wallet")
        self.import_button = QPushButton("I already have a wallet")
        self.create_button.clicked.connect(lambda: self._act(self.flow.choose_create))
        self.import_button.clicked.connect(lambda: self._act(self.flow.choose_import))
        lay.addWidget(self.create_button)
        lay.addWidget(self.import_button)
        lay.addStretch(1)
        return w

    def _show_words(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.addWidget(
            _wrap(
                "This is your Secret Recovery Phrase. Write the words down on paper, in order, and "
                "keep them somewhere safe. They are the only way to recover your wallet; nobody, "
                "not even Morpheus, can reset them."
            )
        )
        self.words_grid = QGridLayout()
        lay.addLayout(self.words_grid)
        self.written_button = QPushButton("I wrote them down")
        self.written_button.clicked.connect(lambda: self._act(self.flow.words_written_down))
        lay.addWidget(self.written_button)
        lay.addStretch(1)
        return w

    def _fill_words(self) -> None:
        _clear(self.words_grid)
        for i, word in enumerate(self.flow.words):
            self.words_grid.addWidget(QLabel(f"{i + 1}. {word}"), i // 4, i % 4)

    def shown_words(self) -> list[str]:
        out = []
        for i in range(self.words_grid.count()):
            item = self.words_grid.itemAt(i)
            widget = item.widget() if item is not None else None
            if isinstance(widget, QLabel):
                out.append(widget.text().split(". ", 1)[1])
        return out

    def _confirm(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.addWidget(_wrap("Tap the words in the order you wrote them down."))
        self.picked_label = QLabel()
        self.picked_label.setWordWrap(True)
        lay.addWidget(self.picked_label)
        self.choice_grid = QGridLayout()
        lay.addLayout(self.choice_grid)
        row = QHBoxLayout()
        self.undo_button = QPushButton("Undo")
        self.undo_button.clicked.connect(self._undo)
        self.confirm_button = QPushButton("Continue")
        self.confirm_button.clicked.connect(lambda: self._act(self.flow.confirm_done))
        row.addWidget(self.undo_button)
        row.addStretch(1)
        row.addWidget(self.confirm_button)
        lay.addLayout(row)
        lay.addStretch(1)
        self.choice_buttons: list[QPushButton] = []
        return w

    def _fill_confirm(self) -> None:
        _clear(self.choice_grid)
        self.choice_buttons = []
        for i, word in enumerate(self.flow.choices):
            b = QPushButton(word)
            b.clicked.connect(lambda _=False, w=word, btn=b: self._pick(w, btn))
            self.choice_grid.addWidget(b, i // 4, i % 4)
            self.choice_buttons.append(b)
        self._update_picked()

    def _pick(self, word: str, button: QPushButton) -> None:
        if self.flow.pick(word):
            button.setEnabled(False)
            show_error(self.errors, None)
        else:
            show_error(
                self.errors,
                f"\u201c{word}\u201d is not word {len(self.flow.picked) + 1}. "
                "Check your paper and try again.",
            )
        self._update_picked()

    def pick_word(self, word: str) -> None:
        """Click the first still-enabled button showing ``word`` (what a user does)."""
        for b in self.choice_buttons:
            if b.text() == word and b.isEnabled():
                b.click()
                return
        raise LookupError(word)

    def _undo(self) -> None:
        if self.flow.picked:
            word = self.flow.picked[-1]
            self.flow.unpick()
            for b in self.choice_buttons:
                if b.text() == word and not b.isEnabled():
                    b.setEnabled(True)
                    break
        self._update_picked()

    def _update_picked(self) -> None:
        self.picked_label.setText(
            " ".join(f"{i + 1}. {w}" for i, w in enumerate(self.flow.picked)) or "…"
        )
        self.confirm_button.setEnabled(self.flow.confirmed)

    def _import(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        self.import_tabs = QTabWidget()
        # recovery phrase
        phrase_tab = QWidget()
        pl = QVBoxLayout(phrase_tab)
        pl.addWidget(_wrap("Type or paste your 12 or 24 words, separated by spaces."))
        self.phrase_edit = QPlainTextEdit()
        pl.addWidget(self.phrase_edit)
        self.check_phrase_button = QPushButton("Check the words")
        self.check_phrase_button.clicked.connect(self._check_phrase)
        pl.addWidget(self.check_phrase_button)
        pl.addWidget(QLabel("Account to use:"))
        self.account_list = QListWidget()
        self.account_list.currentRowChanged.connect(self._account_row)
        pl.addWidget(self.account_list)
        self.import_tabs.addTab(phrase_tab, "Recovery phrase")
        # private key
        key_tab = QWidget()
        kl = QVBoxLayout(key_tab)
        self.key_edit = QLineEdit()
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setPlaceholderText("64 hexadecimal characters")
        kl.addWidget(self.key_edit)
        self.check_key_button = QPushButton("Use this key")
        self.check_key_button.clicked.connect(
            lambda: self._import_single(self.flow.import_private_key, self.key_edit.text())
        )
        kl.addWidget(self.check_key_button)
        kl.addStretch(1)
        self.import_tabs.addTab(key_tab, "Private key")
        # keystore
        ks_tab = QWidget()
        kf = QFormLayout(ks_tab)
        file_row = QHBoxLayout()
        self.keystore_path = QLineEdit()
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse_keystore)
        file_row.addWidget(self.keystore_path, 1)
        file_row.addWidget(browse)
        kf.addRow("Keystore file", file_row)
        self.keystore_password = QLineEdit()
        self.keystore_password.setEchoMode(QLineEdit.EchoMode.Password)
        kf.addRow("Its password", self.keystore_password)
        self.check_keystore_button = QPushButton("Open keystore")
        self.check_keystore_button.clicked.connect(self._open_keystore)
        kf.addRow(self.check_keystore_button)
        self.import_tabs.addTab(ks_tab, "Keystore file")
        lay.addWidget(self.import_tabs)
        self.import_status = QLabel()
        self.import_status.setWordWrap(True)
        lay.addWidget(self.import_status)
        self.import_next = QPushButton("Continue")
        self.import_next.setEnabled(False)
        self.import_next.clicked.connect(lambda: self._act(self.flow.import_done))
        lay.addWidget(self.import_next)
        return w

    def _check_phrase(self) -> None:
        self.account_list.clear()
        self.import_next.setEnabled(False)
        show_error(self.errors, None)
        try:
            accounts = self.flow.import_mnemonic(self.phrase_edit.toPlainText())
        except UserFacingError as exc:
            show_error(self.errors, exc.message)
            return
        for i, a in enumerate(accounts):
            self.account_list.addItem(f"{i + 1}. {a}")
        self.account_list.setCurrentRow(0)
        self.import_status.setText("The recovery phrase is valid. Choose the account to use.")
        self.import_next.setEnabled(True)

    def _account_row(self, row: int) -> None:
        if row >= 0:
            self._act(self.flow.choose_account, row)

    def _import_single(self, fn: Any, *args: Any) -> None:
        self.import_next.setEnabled(False)
        show_error(self.errors, None)
        try:
            address = fn(*args)
        except UserFacingError as exc:
            show_error(self.errors, exc.message)
            return
        self.import_status.setText(f"Account {address} is ready to import.")
        self.import_next.setEnabled(True)

    def _browse_keystore(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Keystore file", str(Path.home()))
        if path:
            self.keystore_path.setText(path)

    def _open_keystore(self) -> None:
        try:
            text = Path(self.keystore_path.text().strip()).read_bytes()
        except OSError as exc:
            show_error(self.errors, f"The file could not be read: {exc.strerror or exc}.")
            return
        self._import_single(self.flow.import_keystore, text, self.keystore_password.text())

    def _password(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.addWidget(
            _wrap(
                "Choose a password. It encrypts your wallet on this computer. If you forget it, "
                "you can restore the wallet only with your recovery phrase."
            )
        )
        form = QFormLayout()
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_confirm = QLineEdit()
        self.password_confirm.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow("Password", self.password_edit)
        form.addRow("Again", self.password_confirm)
        lay.addLayout(form)
        self.strength_bar = QProgressBar()
        self.strength_bar.setRange(0, 4)
        self.strength_bar.setTextVisible(False)
        self.strength_label = QLabel()
        lay.addWidget(self.strength_bar)
        lay.addWidget(self.strength_label)
        self.remember_box = QCheckBox("Unlock automatically on this computer")
        lay.addWidget(self.remember_box)
        self.password_next = QPushButton("Save wallet")
        self.password_next.clicked.connect(self.save_password)
        lay.addWidget(self.password_next)
        lay.addStretch(1)
        self.password_edit.textChanged.connect(self._strength)
        self._strength("")
        return w

    def _strength(self, text: str) -> None:
        s = self.flow.strength(text)
        self.strength_bar.setValue(s.score)
        self.strength_label.setText(f"Strength: {s.label}. {s.hint}" if text else s.hint)

    def save_password(self) -> asyncio.Task[Any] | None:
        pw, confirm = self.password_edit.text(), self.password_confirm.text()
        remember = self.remember_box.isChecked()
        self.password_next.setEnabled(False)

        async def run() -> None:
            try:
                await asyncio.to_thread(self.flow.set_password, pw, confirm, remember=remember)
            finally:
                self.password_next.setEnabled(True)
            self.password_edit.clear()
            self.password_confirm.clear()
            self.sync()

        return self.host.spawn(run(), self.errors)

    def _network(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.addWidget(_wrap("Your wallet is saved. Which network do you want to use?"))
        self.network_group = QButtonGroup(self)
        self.network_buttons: dict[str, QRadioButton] = {}
        for i, n in enumerate(self.flow.networks):
            rb = QRadioButton(n.label)
            rb.setChecked(i == 0)
            self.network_group.addButton(rb, i)
            self.network_buttons[n.key] = rb
            lay.addWidget(rb)
        self.network_next = QPushButton("Finish")
        self.network_next.clicked.connect(self._choose_network)
        lay.addWidget(self.network_next)
        lay.addStretch(1)
        return w

    def _choose_network(self) -> None:
        key = next(k for k, b in self.network_buttons.items() if b.isChecked())
        if self._act(self.flow.choose_network, key):
            self.finished_with_network.emit(key)

    def _done(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.addWidget(_wrap("All set. Your wallet is ready."))
        self.done_notice = QLabel()
        self.done_notice.setWordWrap(True)
        self.done_notice.hide()
        lay.addWidget(self.done_notice)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        lay.addWidget(close)
        lay.addStretch(1)
        return w


def _clear(layout: Any) -> None:
    while layout.count():
        item = layout.takeAt(0)
        widget = item.widget()
        if widget is not None:
            widget.deleteLater()
