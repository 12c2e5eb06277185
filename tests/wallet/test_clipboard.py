"""Copied secrets leave the clipboard after the timeout (shortened here), if still there; the copy
asks clipboard managers not to keep it in their history."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from app.paths import AppPaths
from app.ui import clipboard as clipboard_module
from app.ui.clipboard import copy_secret


def test_a_copied_secret_is_cleared_after_the_timeout(qtbot: QtBot) -> None:
    clipboard = QGuiApplication.clipboard()
    copy_secret("sk-very-secret-value", 80)
    assert clipboard.text() == "sk-very-secret-value"
    mime = clipboard.mimeData()
    assert mime is not None and mime.hasFormat("x-kde-passwordManagerHint")
    assert mime.hasFormat("CanIncludeInClipboardHistory")
    qtbot.waitUntil(lambda: clipboard.text() == "", timeout=5000)


def test_something_copied_since_is_left_alone(qtbot: QtBot) -> None:
    clipboard = QGuiApplication.clipboard()
    copy_secret("sk-another-secret", 50)
    clipboard.setText("a shopping list")
    qtbot.waitUntil(lambda: not clipboard_module._pending, timeout=5000)  # the timer has fired
    assert clipboard.text() == "a shopping list"


def test_the_api_key_copied_from_settings_is_cleared(qtbot: QtBot, wallet_paths: AppPaths) -> None:
    from app.ui.launch import build_main_window, create_application

    app = create_application([])
    window = build_main_window(app, wallet_paths, open_start_page_on_show=False)
    qtbot.addWidget(window)
    page = window.show_page("settings")
    page.clipboard_clear_ms = 80  # type: ignore[attr-defined]
    key = page.api_key_edit.text()  # type: ignore[attr-defined]
    page.copy_key.click()  # type: ignore[attr-defined]
    clipboard = QGuiApplication.clipboard()
    assert clipboard.text() == key and len(key) >= 24
    qtbot.waitUntil(lambda: clipboard.text() == "", timeout=5000)


async def test_quitting_clears_a_secret_still_on_the_clipboard(
    qtbot: QtBot, wallet_paths: AppPaths
) -> None:
    from app.ui.app_state import shutdown_hooks
    from app.ui.launch import build_main_window, create_application

    window = build_main_window(create_application([]), wallet_paths,
                               open_start_page_on_show=False)
    qtbot.addWidget(window)
    copy_secret("the recovery phrase words", 60_000)
    for hook in shutdown_hooks(window.ctx):  # what the launcher runs on quit
        await hook()
    assert QGuiApplication.clipboard().text() == ""
