"""The system tray icon and its menu: the program can keep serving with no window open.

The menu and its actions exist even where the platform has no tray (offscreen, some Linux desktops),
so the same actions drive the window everywhere and tests can trigger them; only the icon itself is
skipped, and the main window then quits on close instead of hiding.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from app.ui.icons import app_icon

TRAY_HOW = "Use the tray icon to open it or quit."


def still_running_text(ctx: Any) -> str:
    """What the program really goes on doing with its window closed, for the tray balloon: it
    says "serving" only while the provider node serves (never builds services to find out)."""
    from app.api.service import WINDOW_API_KEY
    from app.services.app_services import SERVICES_KEY

    svc = ctx.extras.get(SERVICES_KEY)
    doing: list[str] = []
    provider = getattr(svc, "started_provider", None)
    if provider is not None and getattr(provider, "server", None) is not None:
        doing.append("shares your GPU with the network")
    api = ctx.extras.get(WINDOW_API_KEY)
    if api is not None and getattr(api, "running", False):
        doing.append("answers the local API")
    try:
        sessions = len(svc.open_sessions()) if svc is not None else 0
    except Exception:  # a store mid-switch must not stop the window from hiding
        sessions = 0
    if sessions:
        doing.append(f"keeps {sessions} open session{'s' if sessions != 1 else ''} running "
                     "until you close them or they end")
    if not doing:
        return f"Nothing is shared or served right now. {TRAY_HOW}"
    what = doing[0] if len(doing) == 1 else f"{', '.join(doing[:-1])} and {doing[-1]}"
    return f"It {what} in the background. {TRAY_HOW}"


class TrayController(QObject):
    quit_requested = Signal()

    def __init__(self, window: QWidget, *, force_unavailable: bool = False) -> None:
        super().__init__(window)
        self._window = window
        self.menu = QMenu(window)
        self.toggle_action = QAction("Hide window", self)
        self.toggle_action.setObjectName("trayToggle")
        self.toggle_action.triggered.connect(self.toggle_window)
        self.quit_action = QAction("Quit Morpheus Desktop", self)
        self.quit_action.setObjectName("trayQuit")
        self.quit_action.triggered.connect(self.quit_requested.emit)
        self.menu.addAction(self.toggle_action)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)
        self.icon: QSystemTrayIcon | None = None
        if not force_unavailable and QSystemTrayIcon.isSystemTrayAvailable():
            self.icon = QSystemTrayIcon(app_icon(), self)
            self.icon.setToolTip("Morpheus Desktop")
            self.icon.setContextMenu(self.menu)
            self.icon.activated.connect(self._on_activated)
            self.icon.show()
        self.menu.aboutToShow.connect(self.refresh)

    @property
    def available(self) -> bool:
        return self.icon is not None

    def refresh(self) -> None:
        visible = self._window.isVisible() and not self._window.isMinimized()
        self.toggle_action.setText("Hide window" if visible else "Show window")

    def toggle_window(self) -> None:
        if self._window.isVisible() and not self._window.isMinimized():
            self._window.hide()
        else:
            bring = getattr(self._window, "bring_to_front", None)
            if callable(bring):
                bring()
            else:
                self._window.show()
        self.refresh()

    def notify(self, title: str, message: str) -> None:
        if self.icon is not None and QSystemTrayIcon.supportsMessages():
            self.icon.showMessage(title, message, QSystemTrayIcon.MessageIcon.Information, 6000)

    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.toggle_window()

    def dispose(self) -> None:
        if self.icon is not None:
            self.icon.hide()
            self.icon.deleteLater()
            self.icon = None
