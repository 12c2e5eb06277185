"""The steps at 800x600: no clipped text, no jargon, a name for every control, keyboard use,
one current password-strength line."""

from __future__ import annotations

import re

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QCheckBox,
    QLabel,
    QRadioButton,
    QWidget,
)
from pytestqt.qtbot import QtBot

from app.services.onboarding import DEFAULT_NETWORKS, Step
from app.ui.welcome import texts
from tests.ui_first_run.conftest import Launch

PW = "Lantern-Orchid-Glacier-93"
JARGON = re.compile(r"\b(wei|gas|rpc|nonce|anvil|bids?|devnet|consumer\.\w+|provider\.\w+)\b",
                    re.IGNORECASE)


def _visible(root: QWidget, kind: type) -> list:
    return [w for w in root.findChildren(kind) if w.isVisible()]


def _check_screen(window: QWidget) -> list[str]:
    """What a user would see wrong on the current step: clipped text, jargon, unnamed
    controls."""
    QApplication.processEvents()
    problems: list[str] = []
    root = window.welcome
    if root.scroll_area.verticalScrollBar().maximum() > 0:
        problems.append("the step does not fit: it scrolls")
    for label in _visible(root, QLabel):
        text = label.text()
        if JARGON.search(text):
            problems.append(f"jargon in {text!r}")
        if text and not label.wordWrap():
            need = label.fontMetrics().horizontalAdvance(text)
            if need > label.contentsRect().width():
                problems.append(f"label clipped: {text!r} needs {need}, has {label.width()}")
    for button in _visible(root, QAbstractButton):
        text = button.text().replace("&", "")
        if JARGON.search(text):
            problems.append(f"jargon in {text!r}")
        if not button.accessibleName():
            problems.append(f"no accessible name: {text!r}")
        extra = 24 if isinstance(button, QRadioButton | QCheckBox) else 8
        need = button.fontMetrics().horizontalAdvance(text) + extra
        if text and need > button.width():
            problems.append(f"button clipped: {text!r} needs {need}, has {button.width()}")
    for widget in _visible(root, QWidget):
        focusable = widget.focusPolicy() != Qt.FocusPolicy.NoFocus and widget.isEnabled()
        if focusable and not isinstance(widget, QLabel) and not widget.accessibleName():
            if type(widget).__name__ in ("QScrollArea", "QStackedWidget", "QWidget"):
                continue
            problems.append(f"no accessible name: {type(widget).__name__}")
    return problems


def test_the_words_are_plain() -> None:
    said = [v for k, v in vars(texts).items() if k.isupper() and isinstance(v, str)]
    for n in DEFAULT_NETWORKS:
        said += [n.label, n.meaning, n.funding]
    for text in said:
        assert not JARGON.search(text), text


async def test_every_step_fits_800x600_with_names_and_no_jargon(
    launch: Launch, qtbot: QtBot
) -> None:
    window = launch()
    assert window.size().width() == 800 and window.size().height() == 600
    wiz = window.welcome.wizard
    seen: dict[str, list[str]] = {"welcome": _check_screen(window)}
    wiz.create_button.click()
    words = wiz.shown_words()
    seen["words"] = _check_screen(window)
    wiz.written_button.click()
    seen["check"] = _check_screen(window)
    for word in words:
        wiz.pick_word(word)
    seen["check, all picked"] = _check_screen(window)
    wiz.confirm_button.click()
    wiz.password_edit.setText(PW)
    seen["password"] = _check_screen(window)
    wiz.password_confirm.setText(PW)
    task = wiz.save_password()
    assert task is not None
    await task
    seen["network"] = _check_screen(window)
    wiz.network_next.click()
    assert wiz.current_step() == Step.DONE
    seen["done"] = _check_screen(window)
    assert {k: v for k, v in seen.items() if v} == {}


async def test_strength_shows_one_current_value(launch: Launch, qtbot: QtBot) -> None:
    window = launch()
    wiz = window.welcome.wizard
    wiz.create_button.click()
    words = wiz.shown_words()
    wiz.written_button.click()
    for word in words:
        wiz.pick_word(word)
    wiz.confirm_button.click()

    qtbot.keyClicks(wiz.password_edit, "abc")
    qtbot.keyClicks(wiz.password_confirm, "abc")
    task = wiz.save_password()
    assert task is not None
    await task
    assert wiz.errors.isVisible() and "very weak" in wiz.errors.text()

    wiz.password_edit.clear()
    qtbot.keyClicks(wiz.password_edit, PW)
    QApplication.processEvents()
    said = [label.text() for label in _visible(window, QLabel)
            if re.search(r"\b(weak|fair|strong)\b", label.text())]
    assert said == [wiz.strength_label.text()], said
    assert "strong" in said[0] and "weak" not in said[0]
    assert not wiz.errors.isVisible()


async def test_keyboard_only(launch: Launch, qtbot: QtBot) -> None:
    """Enter presses the focused step's main button; Tab moves through the controls."""
    window = launch()
    window.activateWindow()
    wiz = window.welcome.wizard
    assert window.focusWidget() is wiz.try_local_button
    order = [wiz.try_local_button]
    for _ in range(3):
        QApplication.processEvents()
        qtbot.keyClick(QApplication.focusWidget() or window, Qt.Key.Key_Tab)
        order.append(window.focusWidget())
    assert order[1:] == [wiz.create_button, wiz.import_button, wiz.skip_button], order

    wiz.create_button.setFocus()
    qtbot.keyClick(wiz.create_button, Qt.Key.Key_Return)
    assert wiz.current_step() == Step.CREATE_SHOW
    assert window.focusWidget() is wiz.written_button
    qtbot.keyClick(wiz.written_button, Qt.Key.Key_Return)
    assert wiz.current_step() == Step.CREATE_CONFIRM


async def test_restore_step_fits_800x600(launch: Launch) -> None:
    window = launch()
    wiz = window.welcome.wizard
    wiz.import_button.click()
    assert wiz.current_step() == Step.IMPORT
    problems = {}
    for tab in range(wiz.import_tabs.count()):
        wiz.import_tabs.setCurrentIndex(tab)
        problems[wiz.import_tabs.tabText(tab)] = _check_screen(window)
    wiz.back_button.click()
    assert wiz.current_step() == Step.WELCOME
    assert {k: v for k, v in problems.items() if v} == {}
