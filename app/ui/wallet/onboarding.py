"""The welcome and wallet set-up steps' widgets: one page per ``OnboardingFlow`` step.

All decisions (what comes next, what is valid) live in ``app.services.onboarding``; these pages
show the flow's state and forward clicks. Saving the wallet (scrypt) runs in a worker thread.
The main window shows this widget inside its own page stack (``app.ui.welcome.page``); nothing
here opens a window of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractButton,
    QButtonGroup,
    QCheckBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.errors import UserFacingError
from app.services.onboarding import PRACTICE, NetworkChoice, OnboardingFlow, Step, network_choice
from app.ui.ops import OpHost, error_label, show_error
from app.ui.welcome import texts
from app.ui.welcome.import_step import ImportStep, wrapped
from app.ui.welcome.phrase_check import PhraseCheck
from app.ui.welcome.play_money import PlayMoney

if TYPE_CHECKING:
    from app.services.wallet_service import WalletService

_wrap = wrapped


def _primary(button: QPushButton) -> QPushButton:
    """The step's main action: Enter presses it when it has the focus, the style marks it."""
    button.setAutoDefault(True)
    button.setDefault(True)
    button.setProperty("role", "primary")
    return button


class OnboardingWizard(QWidget):
    """Welcome → create (words, confirm) or restore → password → network → done.

    ``first_run`` adds the "try a local model" and "skip" ways out of the welcome step;
    ``cancellable`` adds "Cancel" (set-up started from the Wallet page)."""

    finished_with_network = Signal(str)
    try_local = Signal()
    skipped = Signal()
    cancelled = Signal()
    leave_to = Signal(str)  # the page to open after the last step ("wallet" or "chat")

    def __init__(
        self,
        wallet: WalletService | Callable[[], WalletService],
        *,
        networks: tuple[NetworkChoice, ...] | None = None,
        flow: OnboardingFlow | None = None,
        first_run: bool = False,
        cancellable: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("onboarding")
        self.setWindowTitle("Set up your wallet")
        self.flow = flow or (
            OnboardingFlow(wallet, networks=networks) if networks else OnboardingFlow(wallet)
        )
        self.first_run = first_run
        self.cancellable = cancellable
        self.host = OpHost(self)
        self.save_task: asyncio.Task[Any] | None = None
        lay = QVBoxLayout(self)
        self.stack = QStackedWidget()
        lay.addWidget(self.stack, 1)
        self.errors = error_label()
        self.errors.setAccessibleName("Problem")
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
            page.setParent(self.stack)  # owned here; sync() puts the current one in the stack
            page.hide()
        for button in self.findChildren(QAbstractButton):
            if not button.accessibleName():
                button.setAccessibleName(button.text().replace("&", ""))
            if isinstance(button, QPushButton):
                button.setAutoDefault(True)  # Enter presses the focused button
        self.sync()

    # ----- mapping state to pages ------------------------------------------------------------
    def sync(self) -> None:
        step = self.flow.step
        if step == Step.CREATE_SHOW:
            self._fill_words()
        elif step == Step.CREATE_CONFIRM:
            self._fill_confirm()
        elif step == Step.DONE:
            self._fill_done()
        # Only the step on screen is in the stack, so the stack is as tall as that step (not
        # as the tallest one, which would push "Back" below the fold at 800x600).
        page = self.pages[step]
        for i in reversed(range(self.stack.count())):
            other = self.stack.widget(i)
            if other is not None and other is not page:
                self.stack.removeWidget(other)
        if self.stack.indexOf(page) < 0:
            self.stack.addWidget(page)
        self.stack.setCurrentWidget(page)
        self.back_button.setVisible(self.flow.can_go_back())
        focus = self._focus.get(step)
        if focus is not None and self.isVisible():
            focus.setFocus()

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
        for text in (texts.WALLET, texts.MOR, texts.ETH):
            lay.addWidget(_wrap(text))
        self.try_local_button = _primary(QPushButton(texts.TRY_LOCAL))
        self.try_local_button.clicked.connect(self.try_local.emit)
        self.try_local_hint = _wrap(texts.TRY_LOCAL_HINT)
        self.try_local_hint.setProperty("role", "hint")
        self.wallet_choice = _wrap(texts.WALLET_CHOICE)
        for widget in (self.try_local_button, self.try_local_hint, self.wallet_choice):
            lay.addWidget(widget)
            widget.setVisible(self.first_run)
        self.create_button = QPushButton(texts.CREATE)
        self.import_button = QPushButton(texts.RESTORE)
        if not self.first_run:
            _primary(self.create_button)
        self.create_button.clicked.connect(lambda: self._act(self.flow.choose_create))
        self.import_button.clicked.connect(lambda: self._act(self.flow.choose_import))
        lay.addWidget(self.create_button)
        lay.addWidget(self.import_button)
        self.skip_button = QPushButton(texts.SKIP if self.first_run else texts.CANCEL)
        self.skip_button.setFlat(True)
        self.skip_button.clicked.connect(
            self.skipped.emit if self.first_run else self.cancelled.emit
        )
        self.skip_button.setVisible(self.first_run or self.cancellable)
        lay.addWidget(self.skip_button)
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
        self.written_button = _primary(QPushButton("I wrote them down"))
        self.written_button.clicked.connect(lambda: self._act(self.flow.words_written_down))
        lay.addWidget(self.written_button)
        lay.addStretch(1)
        return w

    def _fill_words(self) -> None:
        while self.words_grid.count():
            item = self.words_grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        for i, word in enumerate(self.flow.words):
            label = QLabel(f"{i + 1}. {word}")
            label.setAccessibleName(f"Word {i + 1}: {word}")
            self.words_grid.addWidget(label, i // 4, i % 4)

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
        self.phrase_check = PhraseCheck(self._pick)
        lay.addWidget(self.phrase_check)
        row = QHBoxLayout()
        self.undo_button = QPushButton("Undo")
        self.undo_button.setAccessibleName("Undo the last word")
        self.undo_button.clicked.connect(self._undo)
        self.confirm_button = _primary(QPushButton("Continue"))
        self.confirm_button.clicked.connect(lambda: self._act(self.flow.confirm_done))
        row.addWidget(self.undo_button)
        row.addStretch(1)
        row.addWidget(self.confirm_button)
        lay.addLayout(row)
        lay.addStretch(1)
        return w

    @property
    def choice_buttons(self) -> list[QPushButton]:
        return self.phrase_check.buttons

    def _fill_confirm(self) -> None:
        self.phrase_check.fill(self.flow.choices)
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
        self.phrase_check.show_picked(self.flow.picked)
        self.confirm_button.setEnabled(self.flow.confirmed)

    def _import(self) -> QWidget:
        step = ImportStep(self.flow, lambda text: show_error(self.errors, text), self._act)
        self.import_step = step
        self.import_tabs = step.tabs
        self.phrase_edit = step.phrase_edit
        self.check_phrase_button = step.check_phrase_button
        self.account_list = step.account_list
        self.key_edit = step.key_edit
        self.check_key_button = step.check_key_button
        self.keystore_path = step.keystore_path
        self.keystore_password = step.keystore_password
        self.check_keystore_button = step.check_keystore_button
        self.import_status = step.status
        self.import_next = step.next_button
        return step

    def _password(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.addWidget(
            _wrap(
                "Choose a password. It locks your wallet on this computer. If you forget it, "
                "you can restore the wallet only with your recovery phrase."
            )
        )
        form = QFormLayout()
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setAccessibleName("Password")
        self.password_confirm = QLineEdit()
        self.password_confirm.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_confirm.setAccessibleName("Password again")
        form.addRow("Password", self.password_edit)
        form.addRow("Again", self.password_confirm)
        lay.addLayout(form)
        self.strength_bar = QProgressBar()
        self.strength_bar.setRange(0, 4)
        self.strength_bar.setTextVisible(False)
        self.strength_bar.setAccessibleName("Password strength")
        # The one place the strength is said; rewritten on every keystroke.
        self.strength_label = _wrap("")
        self.strength_label.setObjectName("passwordStrength")
        lay.addWidget(self.strength_bar)
        lay.addWidget(self.strength_label)
        self.remember_box = QCheckBox("Unlock automatically on this computer")
        lay.addWidget(self.remember_box)
        self.password_next = _primary(QPushButton("Save wallet"))
        self.password_next.clicked.connect(self.save_password)
        lay.addWidget(self.password_next)
        lay.addStretch(1)
        self.password_edit.textChanged.connect(self._strength)
        self.password_confirm.textChanged.connect(lambda _t: self._clear_password_error())
        self.password_edit.returnPressed.connect(self.password_confirm.setFocus)
        self.password_confirm.returnPressed.connect(self.password_next.click)
        self._strength("")
        return w

    def _clear_password_error(self) -> None:
        # An error about the old text ("This password is very weak") must not stay up next to
        # the strength of the new one.
        if self.flow.step == Step.PASSWORD and self.save_task is None:
            show_error(self.errors, None)

    def _strength(self, text: str) -> None:
        s = self.flow.strength(text)
        self.strength_bar.setValue(s.score)
        self.strength_label.setText(f"Strength: {s.label}. {s.hint}" if text else s.hint)
        self._clear_password_error()

    def save_password(self) -> asyncio.Task[Any] | None:
        """Save the wallet; while a save runs, further clicks return that same save."""
        if self.save_task is not None:
            return self.save_task
        pw, confirm = self.password_edit.text(), self.password_confirm.text()
        remember = self.remember_box.isChecked()
        self.password_next.setEnabled(False)

        async def run() -> None:
            try:
                await asyncio.to_thread(self.flow.set_password, pw, confirm, remember=remember)
            finally:
                self.password_next.setEnabled(True)
                self.save_task = None
            self.password_edit.clear()
            self.password_confirm.clear()
            self.sync()

        task = self.host.spawn(run(), self.errors)
        self.save_task = task
        return task

    def _network(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.addWidget(_wrap(texts.NETWORK_INTRO))
        self.network_group = QButtonGroup(self)
        self.network_buttons: dict[str, QRadioButton] = {}
        for i, n in enumerate(self.flow.networks):
            rb = QRadioButton(n.label)
            rb.setChecked(i == 0)
            rb.setAccessibleName(n.label)
            rb.setAccessibleDescription(n.meaning)
            self.network_group.addButton(rb, i)
            self.network_buttons[n.key] = rb
            lay.addWidget(rb)
            if n.meaning:
                meaning = _wrap(n.meaning)
                meaning.setProperty("role", "hint")
                meaning.setContentsMargins(24, 0, 0, 6)
                lay.addWidget(meaning)
        self.network_next = _primary(QPushButton("Finish"))
        self.network_next.setAccessibleName("Finish: use the chosen network")
        self.network_next.clicked.connect(self._choose_network)
        lay.addWidget(self.network_next)
        lay.addStretch(1)
        return w

    def _choose_network(self) -> None:
        if self.flow.step != Step.NETWORK:  # a second click on Finish
            return
        key = next(k for k, b in self.network_buttons.items() if b.isChecked())
        if self._act(self.flow.choose_network, key):
            self.finished_with_network.emit(key)

    def _done(self) -> QWidget:
        w = QWidget()
        lay = QVBoxLayout(w)
        lay.addWidget(_wrap(texts.DONE))
        self.done_notice = _wrap("")
        self.done_notice.hide()
        lay.addWidget(self.done_notice)
        self.funding_hint = _wrap("")
        self.funding_hint.setObjectName("fundingHint")
        lay.addWidget(self.funding_hint)
        self.play_money = PlayMoney(lambda: self.flow.wallet, self.host, self.errors)
        self.play_money_button = self.play_money.button
        lay.addWidget(self.play_money)
        row = QHBoxLayout()
        self.open_wallet_button = _primary(QPushButton(texts.OPEN_WALLET))
        self.open_wallet_button.clicked.connect(lambda: self._leave("wallet"))
        self.start_chat_button = QPushButton(texts.START_CHAT)
        self.start_chat_button.clicked.connect(lambda: self._leave("chat"))
        row.addWidget(self.open_wallet_button)
        row.addWidget(self.start_chat_button)
        row.addStretch(1)
        lay.addLayout(row)
        lay.addStretch(1)
        return w

    def _fill_done(self) -> None:
        notice = self.flow.keyring_notice
        self.done_notice.setText(notice or "")
        self.done_notice.setVisible(bool(notice))
        choice = network_choice(self.flow.network or "", self.flow.networks)
        hint = choice.funding
        if hint:
            lead = texts.NEW_EMPTY if self.flow.mode == "create" else texts.RESTORED_FUNDING
            hint = lead + hint[0].lower() + hint[1:]
        self.funding_hint.setText(hint)
        self.funding_hint.setVisible(bool(hint))
        self.play_money.setVisible(choice.key == PRACTICE)

    def get_play_money(self) -> asyncio.Task[Any] | None:
        return self.play_money.get()

    def _leave(self, page: str) -> None:
        self.leave_to.emit(page)
        if self.parent() is None:  # shown on its own (tests): nothing else will take it away
            self.close()

    @property
    def _focus(self) -> dict[Step, QWidget]:
        return {
            Step.WELCOME: self.try_local_button if self.first_run else self.create_button,
            Step.CREATE_SHOW: self.written_button,
            Step.CREATE_CONFIRM: (self.choice_buttons or [self.undo_button])[0],
            Step.IMPORT: self.phrase_edit,
            Step.PASSWORD: self.password_edit,
            Step.NETWORK: self.network_next,
            Step.DONE: self.open_wallet_button,
        }
