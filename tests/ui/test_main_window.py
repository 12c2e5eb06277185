"""The window a user sees: pages reachable from the sidebar, tray hide/restore, status bar, clean
close, runtime theme switch."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QPoint, Qt, QtMsgType
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from app.ui.main_window import MainWindow
from app.ui.tray import TrayController

EXPECTED_PAGES = {
    "chat": ("Chat", "app.ui.chat_page", "ChatPage"),
    "share": ("Share my GPU", "app.ui.share.page", "SharePage"),  # split into a package (issue 14)
    "models": ("Models", "app.ui.library.page", "LibraryPage"),
    "wallet": ("Wallet", "app.ui.wallet_page", "WalletPage"),
    "activity": ("Activity", "app.ui.activity_page", "ActivityPage"),
    "settings": ("Settings", "app.ui.settings_page", "SettingsPage"),
}


def _click_sidebar(qtbot, window: MainWindow, row: int) -> None:
    item = window.sidebar.item(row)
    rect = window.sidebar.visualItemRect(item)
    assert rect.isValid(), "sidebar item is not laid out"
    qtbot.mouseClick(window.sidebar.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_window_opens_offscreen_and_every_page_is_reachable(make_window, qtbot):
    window = make_window()
    assert window.pages == {}, "pages must not be built before the window is shown"
    window.show()
    qtbot.waitExposed(window)
    # The start page (chat on a fresh install) is built right after the first show.
    qtbot.waitUntil(lambda: window.current_page_key() == "chat", timeout=10_000)

    titles = [window.sidebar.item(i).text() for i in range(window.sidebar.count())]
    assert titles == [t for t, _m, _c in EXPECTED_PAGES.values()]
    for row, (key, (_title, module, cls)) in reversed(list(enumerate(EXPECTED_PAGES.items()))):
        _click_sidebar(qtbot, window, row)
        current = window.stack.currentWidget()
        assert window.current_page_key() == key
        assert type(current).__module__ == module and type(current).__name__ == cls, (
            f"{key}: got {type(current).__module__}.{type(current).__name__}"
            f" ({current.objectName()})"
        )
        assert current.isVisible()
    # Each page is built once and reused.
    before = dict(window.pages)
    _click_sidebar(qtbot, window, 0)
    assert window.pages == before


def test_broken_page_shows_error_in_place(make_window, qtbot):
    window = make_window()

    def broken(_ctx):
        raise RuntimeError("page exploded")

    window.register_page("broken", "Broken", "warning", broken)
    window.show()
    widget = window.show_page("broken")
    assert widget.objectName() == "pageError"
    assert widget.isVisible()
    assert window.isVisible()
    with pytest.raises(ValueError):
        window.register_page("broken", "Again", "warning", broken)


def test_tray_action_hides_and_restores_window(make_window, qtbot):
    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    toggle = window.tray.toggle_action
    window.tray.refresh()
    assert toggle.text() == "Hide window"

    toggle.trigger()
    assert not window.isVisible()
    assert toggle.text() == "Show window"

    toggle.trigger()
    qtbot.waitExposed(window)
    assert window.isVisible()
    assert toggle.text() == "Hide window"


def test_close_without_tray_quits_cleanly_without_warnings(make_window, qtbot, qtlog, paths):
    window = make_window()
    assert not window.tray.available  # offscreen has no system tray
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.current_page_key() == "chat", timeout=10_000)
    window.show_page("settings")

    with qtbot.waitSignal(window.quit_requested, timeout=5_000):
        assert window.close()
    assert not window.isVisible()
    QApplication.processEvents()

    problems = [r for r in qtlog.records if r.type != QtMsgType.QtDebugMsg]
    assert problems == [], [r.message for r in problems]
    saved = json.loads(paths.settings_file.read_text())
    assert saved["last_page"] == "settings"
    assert saved["window_geometry"], "window geometry should be remembered"


def test_close_with_tray_keeps_serving_in_background(make_window, qtbot, monkeypatch, paths):
    monkeypatch.setattr(TrayController, "available", property(lambda self: True))
    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    quits: list[bool] = []
    window.quit_requested.connect(lambda: quits.append(True))

    window.close()
    assert not window.isVisible(), "closing hides the window to the tray"
    assert quits == [], "closing to tray must not quit"
    assert json.loads(paths.settings_file.read_text())["tray_hint_shown"] is True

    window.tray.toggle_action.trigger()
    assert window.isVisible()

    with qtbot.waitSignal(window.quit_requested, timeout=5_000):
        window.tray.quit_action.trigger()
    assert not window.isVisible()


def test_close_quits_when_background_serving_is_off(make_window, qtbot, monkeypatch):
    monkeypatch.setattr(TrayController, "available", property(lambda self: True))
    window = make_window()
    window.store.update(keep_serving_in_background=False)
    window.show()
    with qtbot.waitSignal(window.quit_requested, timeout=5_000):
        window.close()


def test_status_bar_follows_status_model(make_window, qtbot):
    window = make_window()
    window.show()
    model = window.status_model
    assert window.network_status.text() == "BASE"
    assert window.block_status.text() == "Not connected"
    assert window.wallet_status.text() == "No wallet"

    model.set_network("base-sepolia")
    model.set_block(12_345_678)
    model.set_wallet_state("locked")
    assert window.network_status.text() == "BASE Sepolia (test network)"
    assert window.block_status.text() == "Block 12,345,678"
    assert window.wallet_status.text() == "Wallet locked"

    model.set_wallet_state("unlocked")
    assert window.wallet_status.text() == "Wallet unlocked"
    model.set_block(None)
    assert window.block_status.text() == "Not connected"
    with pytest.raises(ValueError):
        model.set_wallet_state("open")
    with pytest.raises(ValueError):
        model.set_block(-1)
    assert window.wallet_status.text() == "Wallet unlocked"


def test_theme_switches_at_runtime_and_persists(make_window, qtbot, paths):
    window = make_window()
    window.show()
    page = window.show_page("settings")
    app = QApplication.instance()
    light_icon = window.sidebar.item(0).icon().pixmap(24, 24).toImage()

    page.theme_combo.setCurrentIndex(page.theme_combo.findData("dark"))
    assert app.palette().color(QPalette.ColorRole.Window).name() == "#14181d"
    assert "#1b2026" in app.styleSheet()
    assert json.loads(paths.settings_file.read_text())["theme"] == "dark"
    dark_icon = window.sidebar.item(0).icon().pixmap(24, 24).toImage()
    assert dark_icon != light_icon, "sidebar icons are re-tinted for the dark theme"

    page.theme_combo.setCurrentIndex(page.theme_combo.findData("light"))
    assert app.palette().color(QPalette.ColorRole.Window).name() == "#f7f8fa"
    assert json.loads(paths.settings_file.read_text())["theme"] == "light"


def test_icons_are_sharp_svgs_at_high_dpi(make_window):
    window = make_window()
    icon = window.sidebar.item(0).icon()
    small, large = icon.pixmap(16, 16), icon.pixmap(64, 64)
    assert (small.width(), large.width()) == (16, 64)
    # Something is drawn (not a blank square) at the large size.
    img = large.toImage()
    opaque = sum(
        1 for x in range(0, 64, 2) for y in range(0, 64, 2) if img.pixelColor(x, y).alpha() > 0
    )
    assert opaque > 20
    assert not window.windowIcon().isNull()
    assert window.windowIcon().pixmap(256, 256).width() == 256


def test_notice_bar_can_be_dismissed(make_window, qtbot):
    window = make_window()
    window.show()
    window.show_notice("Hello once")
    assert window.notice_bar.isVisible()
    assert window.notice_bar.label.text() == "Hello once"
    qtbot.mouseClick(window.notice_bar.close_button, Qt.MouseButton.LeftButton, pos=QPoint(3, 3))
    assert not window.notice_bar.isVisible()


def test_start_at_login_is_off_by_default_and_writes_the_autostart_entry(
    make_window, qtbot, monkeypatch, tmp_path
):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    entry = tmp_path / "xdg" / "autostart" / "morpheus-desktop.desktop"
    window = make_window()
    page = window.show_page("settings")
    assert not page.start_at_login.isChecked() and not entry.exists()

    page.start_at_login.setChecked(True)
    text = entry.read_text()
    assert "Exec=" in text and "X-GNOME-Autostart-enabled=true" in text
    assert make_window().show_page("settings").start_at_login.isChecked()  # read back

    page.start_at_login.setChecked(False)
    assert not entry.exists()
