"""The main window: sidebar of pages, notice bar, status bar, tray, close-to-tray behaviour.

Only the window frame is built up front; each page is built the first time it is opened (the first
one right after the window is shown), so the window appears fast and a page that fails to build
shows its error in place instead of taking the program down. Code that runs before the first
paint avoids the ``Qt`` namespace (its first use builds ~150 Python enums, tens of milliseconds).
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QSize, QTimer, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QGuiApplication,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.services.context import AppContext
from app.storage.settings import NETWORK_CHOICES, Settings
from app.ui.app_state import settings_store
from app.ui.first_paint import after_first_paint
from app.ui.icons import app_icon, themed_icon
from app.ui.pages import PageFactory, PageSpec, default_pages
from app.ui.status_model import StatusModel
from app.ui.theme import (
    apply_theme,
    current_theme,
    effective_theme,
    icon_color,
    note_system_dark,
)
from app.ui.wallet_lock import WalletLockWatcher

if TYPE_CHECKING:
    from app.ui.tray import TrayController

log = logging.getLogger(__name__)

_NETWORK_NAMES = dict(NETWORK_CHOICES)
# Platforms without a window manager: raising would only print a warning.
_HEADLESS_PLATFORMS = ("offscreen", "minimal")
_WALLET_TEXT = {"none": "No wallet", "locked": "Wallet locked", "unlocked": "Wallet unlocked"}


def network_label(name: str) -> str:
    from app.ui.words import network_name

    return network_name(name)


class NoticeBar(QFrame):
    """A dismissible one-line message above the page (used for one-time notices)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("noticeBar")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setObjectName("noticeText")
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAutoRaise(True)
        self.close_button.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 8, 8, 8)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.close_button)
        self.hide()

    def show_message(self, text: str) -> None:
        self.label.setText(text)
        self.show()


class MainWindow(QMainWindow):
    quit_requested = Signal()
    first_shown = Signal()
    page_changed = Signal(str)

    def __init__(
        self,
        ctx: AppContext,
        *,
        pages: list[PageSpec] | None = None,
        tray_available: bool | None = None,
        open_start_page_on_show: bool = True,
    ) -> None:
        super().__init__()
        self.ctx = ctx
        self.store = settings_store(ctx)
        self.setObjectName("mainWindow")
        self.setWindowTitle("Morpheus Desktop")
        self.setWindowIcon(app_icon())
        self.setMinimumSize(QSize(760, 480))
        self._specs: dict[str, PageSpec] = {}
        self.pages: dict[str, QWidget] = {}
        self._quitting = False
        self._shown_once = False
        self._open_start_page_on_show = open_start_page_on_show
        self._pages_ready = False
        self.status_feed: Any = None  # app.ui.status_feed.StatusFeed, set by the launcher
        # Asked before quitting (sessions open?); True when it took over and calls the
        # continuation itself. Set by app.ui.jobs_notice.
        self.quit_guard: Callable[[Callable[[bool], None]], bool] | None = None
        self._quit_asked = False
        self.jobs_notice: Any = None  # app.ui.jobs_notice.JobsNotice, set by the launcher
        self.welcome: Any = None  # app.ui.welcome.page.WelcomePage while the set-up steps show

        self.sidebar = QListWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setIconSize(QSize(20, 20))
        self.sidebar.setFixedWidth(210)
        self.sidebar.setFrameShape(QFrame.Shape.NoFrame)
        self.stack = QStackedWidget()
        self.stack.setObjectName("pageStack")
        self.notice_bar = NoticeBar()

        right = QVBoxLayout()
        right.setContentsMargins(12, 12, 12, 0)
        right.addWidget(self.notice_bar)
        right.addWidget(self.stack, 1)
        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.sidebar)
        row.addLayout(right, 1)
        self.setCentralWidget(central)

        # Status bar, fed by the status model.
        self.status_model = StatusModel(self)
        self.network_status = QLabel()
        self.network_status.setObjectName("networkStatus")
        self.block_status = QLabel()
        self.block_status.setObjectName("blockStatus")
        self.wallet_status = QLabel()
        self.wallet_status.setObjectName("walletStatus")
        for w in (self.network_status, self.block_status, self.wallet_status):
            self.statusBar().addPermanentWidget(w)
        self.status_model.network_changed.connect(
            lambda name: self.network_status.setText(network_label(name))
        )
        self.status_model.block_changed.connect(self._show_block)
        self.status_model.wallet_state_changed.connect(
            lambda st: self.wallet_status.setText(_WALLET_TEXT[st])
        )
        self.network_status.setText(network_label(""))
        self._show_block(None)
        self.wallet_status.setText(_WALLET_TEXT["none"])
        self.status_model.set_network(self.settings.network)

        # The wallet locks on idle, sleep and screen lock from launch, not from the Wallet page.
        self.wallet_lock = WalletLockWatcher(ctx, self)

        # The tray icon and its menu follow the first paint (a launch to the tray makes it now).
        self._tray: TrayController | None = None
        self._tray_available = tray_available
        after_first_paint(lambda: self.tray)
        # Ctrl+Q (the platform's Quit keys): QKeySequence's enums cost ~5 ms, not for the paint.
        after_first_paint(self._add_quit_shortcut)

        for spec in pages if pages is not None else default_pages():
            self.register_page(spec.key, spec.title, spec.icon, spec.factory)
        self.sidebar.currentRowChanged.connect(self._on_row_changed)

        self._unsubscribe = self.store.subscribe(self._on_settings_changed)
        self._watching_scheme = False
        self._restore_geometry()

    def _add_quit_shortcut(self) -> None:
        from PySide6.QtGui import QKeySequence, QShortcut

        QShortcut(QKeySequence(QKeySequence.StandardKey.Quit), self, self.request_quit)

    # --- pages -----------------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        settings: Settings = self.store.settings
        return settings

    def register_page(self, key: str, title: str, icon: str, factory: PageFactory) -> None:
        """Add a sidebar entry; ``factory(ctx)`` builds the page the first time it is opened."""
        if key in self._specs:
            raise ValueError(f"page {key!r} already registered")
        self._specs[key] = PageSpec(key, title, icon, factory)
        item = QListWidgetItem(themed_icon(icon, icon_color()), title)
        item.setToolTip(title)
        self.sidebar.addItem(item)

    def _refresh_icons(self) -> None:
        color = icon_color()
        for row, spec in enumerate(self._specs.values()):
            self.sidebar.item(row).setIcon(themed_icon(spec.icon, color))

    @property
    def tray(self) -> TrayController:
        """The tray icon and its menu (made on first use)."""
        if self._tray is None:
            from app.ui.tray import TrayController

            self._tray = TrayController(self, force_unavailable=self._tray_available is False)
            self._tray.quit_requested.connect(self.request_quit)
            self._tray.refresh()
        return self._tray

    def _refresh_tray(self) -> None:
        if self._tray is not None:
            self._tray.refresh()

    def page_keys(self) -> list[str]:
        return list(self._specs)

    def current_page_key(self) -> str | None:
        row = self.sidebar.currentRow()
        return list(self._specs)[row] if 0 <= row < len(self._specs) else None

    def page(self, key: str) -> QWidget:
        """The page widget for ``key``, building it now if it was never opened."""
        if key not in self.pages:
            spec = self._specs[key]
            try:
                widget = spec.factory(self.ctx)
            except Exception as exc:
                from app.ui.placeholder import PlaceholderPage

                log.exception("could not build page %s", key)
                widget = PlaceholderPage(
                    spec.title,
                    f"This page could not be opened: {exc}. The details are in the log file "
                    f"in {self.ctx.paths.logs}.",
                )
                widget.setObjectName("pageError")
            widget.setProperty("pageKey", key)
            self.pages[key] = widget
            self.stack.addWidget(widget)
        return self.pages[key]

    def show_page(self, key: str) -> QWidget:
        self._pages_ready = True
        if self.welcome is not None:  # another part of the program asked for a page
            self._close_welcome()
        widget = self.page(key)
        self.stack.setCurrentWidget(widget)
        row = list(self._specs).index(key)
        if self.sidebar.currentRow() != row:
            self.sidebar.blockSignals(True)
            self.sidebar.setCurrentRow(row)
            self.sidebar.blockSignals(False)
        self.page_changed.emit(key)
        return widget

    def _on_row_changed(self, row: int) -> None:
        # Before the start page opens, a row change comes from Qt giving the list focus, not
        # from the user; building a page then would run before the event loop is ready.
        if self._pages_ready and 0 <= row < len(self._specs):
            self.show_page(list(self._specs)[row])

    # --- welcome steps ---------------------------------------------------------------------

    def open_first_page(self) -> None:
        """The launcher's first page: the welcome steps on a first start, else the start page."""
        from app.services.first_start import needs_welcome

        if self._pages_ready:
            return
        if needs_welcome(self.settings, self.ctx.paths.wallet):
            log.info("first start: showing the welcome steps")
            self.watch_system_scheme()
            self._pages_ready = True
            self.show_welcome(first_run=True)
        else:
            self.open_start_page()

    def show_welcome(self, *, first_run: bool = False) -> QWidget:
        """Show the welcome / wallet set-up steps as this window's page (the sidebar hides
        until they are left)."""
        if self.welcome is not None:
            return self.welcome  # type: ignore[no-any-return]
        from app.ui.welcome.page import WelcomePage

        page = WelcomePage(self.ctx, first_run=first_run)
        page.leave.connect(self._leave_welcome)
        self.welcome = page
        self.stack.addWidget(page)
        self.stack.setCurrentWidget(page)
        self.sidebar.setEnabled(False)
        self.sidebar.hide()
        page.wizard.sync()  # focus on the step's main button now that it is visible
        return page

    def _close_welcome(self) -> None:
        page, self.welcome = self.welcome, None
        if page is None:
            return
        self.stack.removeWidget(page)
        page.hide()
        page.deleteLater()
        self.sidebar.setEnabled(True)
        self.sidebar.show()

    def _leave_welcome(self, target: str) -> None:
        self._close_welcome()
        key = "chat" if target == "chat-local" else target
        if key not in self._specs:
            key = self._start_page()
        page = self.show_page(key)
        if target == "chat-local":
            from app.ui.welcome.host import select_local_model

            select_local_model(page)

    def _start_page(self) -> str:
        last = self.settings.last_page
        return last if last in self._specs else next(iter(self._specs))

    # --- notices, status -------------------------------------------------------------------

    def show_notice(self, text: str) -> None:
        log.info("notice: %s", text)
        self.notice_bar.show_message(text)

    def _show_block(self, height: int | None) -> None:
        self.block_status.setText("Not connected" if height is None else f"Block {height:,}")

    # --- theme -----------------------------------------------------------------------------

    def _on_settings_changed(self, settings: Settings, changed: frozenset[str]) -> None:
        if "theme" in changed:
            self.apply_theme(settings.theme)
        if "network" in changed:
            self.status_model.set_network(settings.network)

    def watch_system_scheme(self) -> None:
        """Follow the desktop's light/dark switch (called once the window is up; see theme.py)."""
        if self._watching_scheme:
            return
        app = QApplication.instance()
        if not isinstance(app, QApplication):
            return
        self._watching_scheme = True
        hints = app.styleHints()
        hints.colorSchemeChanged.connect(self._on_system_scheme)
        self._on_system_scheme(hints.colorScheme())

    def _on_system_scheme(self, scheme: Any) -> None:
        from PySide6.QtCore import Qt

        if scheme == Qt.ColorScheme.Unknown:
            return
        note_system_dark(scheme == Qt.ColorScheme.Dark)
        if self.settings.theme == "system" and effective_theme("system") != current_theme():
            self.apply_theme("system")

    def apply_theme(self, name: str) -> str:
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        theme = apply_theme(app, name)
        self._refresh_icons()
        return theme

    # --- window life cycle -----------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._refresh_tray()
        if not self._shown_once:
            self._shown_once = True
            self.first_shown.emit()
            if self._open_start_page_on_show:
                # Build the first page after this show has been painted, not before.
                QTimer.singleShot(0, self.open_start_page)

    def open_start_page(self) -> None:
        """Open the page the user left last time (once; later calls do nothing). The launcher
        calls :meth:`open_first_page`, which may show the welcome steps instead."""
        # After this page's paint (it costs ~40 ms, and the colour scheme is a ``Qt`` enum).
        after_first_paint(lambda: QTimer.singleShot(0, self.watch_system_scheme))
        if self._pages_ready:
            return
        self._pages_ready = True
        if self._specs:
            self.show_page(self._start_page())

    def bring_to_front(self) -> None:
        """Show, un-minimise and raise the window (tray, second launch)."""
        if self.isMinimized():
            self.showNormal()
        self.show()
        if QGuiApplication.platformName() not in _HEADLESS_PLATFORMS:
            self.raise_()
            self.activateWindow()
        self._refresh_tray()

    def hideEvent(self, event: Any) -> None:
        super().hideEvent(event)
        self._refresh_tray()

    def closeEvent(self, event: QCloseEvent) -> None:
        if (
            not self._quitting
            and self.settings.keep_serving_in_background
            and self.tray.available
        ):
            event.ignore()
            self._save_state()
            self.hide()
            if not self.settings.tray_hint_shown:
                from app.ui.tray import still_running_text

                self.tray.notify("Morpheus Desktop is still running", still_running_text(self.ctx))
                self._update_settings(tray_hint_shown=True)
            return
        event.accept()
        self.request_quit()

    def request_quit(self) -> None:
        """Save window state, remove the tray icon and ask the application to quit (once).
        With sessions open, the quit guard asks first (close now, or keep them open)."""
        if self._quitting:
            return
        if self.quit_guard is not None and not self._quit_asked:
            self._quit_asked = True
            if self.quit_guard(self._quit_after_guard):
                return
        self._quit_now()

    def _quit_after_guard(self, go_on: bool = True) -> None:
        if go_on:
            self._quit_now()
        else:
            self._quit_asked = False  # the user stayed; ask again next time

    def _quit_now(self) -> None:
        if self._quitting:
            return
        self._quitting = True
        self._save_state()
        self._unsubscribe()
        if self._tray is not None:
            self._tray.dispose()
        self.hide()
        self.quit_requested.emit()

    def _save_state(self) -> None:
        geometry = base64.b64encode(bytes(self.saveGeometry().data())).decode("ascii")
        # While the welcome steps show there is no sidebar page: keep the one saved before.
        last = self.current_page_key() or self.settings.last_page
        self._update_settings(window_geometry=geometry, last_page=last)

    def _update_settings(self, **changes: Any) -> None:
        try:
            self.store.update(**changes)
        except Exception as exc:  # never block closing the window on a settings write
            log.warning("could not save window settings: %s", exc)

    def _restore_geometry(self) -> None:
        raw = self.settings.window_geometry
        restored = False
        if raw:
            try:
                restored = self.restoreGeometry(QByteArray(base64.b64decode(raw, validate=True)))
            except (binascii.Error, ValueError):
                restored = False
        if not restored:
            self.resize(1100, 720)
