"""The system tray icon and its menu: the program can keep serving with no window open.

The menu and its actions exist even where the platform has no tray (offscreen, some Linux desktops),
so the same actions drive the window everywhere and tests can trigger them; only the icon itself is
skipped, and the main window then quits on close instead of hiding.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from app.ui.icons import app_icon


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
