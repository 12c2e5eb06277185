"""Locks the wallet from the moment the window exists, whichever page is open.

Three things lock it, all through ``WalletService.lock`` (which stops every signer at once):
the idle timeout (no key press or click in the program), the computer going to sleep, and the
screen locking. Sleep and screen lock come
from logind and the screen saver over D-Bus where the desktop offers them (Linux); everywhere else
a sleep still shows up as the wall clock jumping ahead of the monotonic clock between two checks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer, Slot

from app.services.context import AppContext
from app.ui.app_state import register_shutdown
from app.ui.first_paint import after_first_paint

log = logging.getLogger(__name__)

IDLE_CHECK_MS = 15_000
SLEEP_GAP_S = 90.0  # wall time passing this much faster than monotonic time means a sleep

_INPUT_EVENTS = frozenset({QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.Wheel})

# (bus, service, path, interface, signal): each sends one bool, True when sleeping or locked.
_DBUS_SOURCES = (
    ("system", "org.freedesktop.login1", "/org/freedesktop/login1",
     "org.freedesktop.login1.Manager", "PrepareForSleep", "sleep"),
    ("session", "org.freedesktop.ScreenSaver", "/org/freedesktop/ScreenSaver",
     "org.freedesktop.ScreenSaver", "ActiveChanged", "screen"),
    ("session", "org.gnome.ScreenSaver", "/org/gnome/ScreenSaver",
     "org.gnome.ScreenSaver", "ActiveChanged", "screen"),
)


class WalletLockWatcher(QObject):
    """Owned by the main window; reads ``ctx.wallet`` at each event, so a wallet created later
    (or replaced) is watched too."""

    def __init__(
        self,
        ctx: AppContext,
        parent: QObject | None = None,
        *,
        check_ms: int = IDLE_CHECK_MS,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        use_dbus: bool = True,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._wall = wall_clock
        self._mono = monotonic
        self._last = (wall_clock(), monotonic())
        self.timer = QTimer(self)
        self.timer.setInterval(check_ms)
        self.timer.timeout.connect(self.check)
        self.timer.start()
        # The OS's sleep and screen-lock signals: a bus connection, not needed for the first paint.
        self.os_sources: list[str] = []
        if use_dbus:
            after_first_paint(self._listen_to_os)
        register_shutdown(ctx, self._at_quit)
        # "Idle" means the person is away: typing or clicking anywhere in the program counts as
        # using it (signatures made by background work do not).
        self._last_input = 0.0
        app = QCoreApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # Qt names it so
        if event.type() in _INPUT_EVENTS:
            now = self._mono()
            if now - self._last_input >= 1.0:  # once a second is plenty
                self._last_input = now
                wallet = self.ctx.wallet
                if wallet is not None:
                    wallet.touch()
        return False

    async def _at_quit(self) -> None:
        """Quitting: copied secrets leave the clipboard now rather than stay behind."""
        from app.ui.clipboard import clear_pending_secrets

        clear_pending_secrets()

    def _lock(self, reason: str) -> None:
        wallet = self.ctx.wallet
        if wallet is not None and wallet.is_unlocked:
            wallet.lock(reason)

    @Slot()
    def check(self) -> None:
        """Idle timeout, and a sleep seen as a wall-clock jump."""
        wall, mono = self._wall(), self._mono()
        last_wall, last_mono = self._last
        self._last = (wall, mono)
        if (wall - last_wall) - (mono - last_mono) > SLEEP_GAP_S:
            self._lock("locked because the computer was asleep")
            return
        wallet = self.ctx.wallet
        if wallet is not None:
            wallet.check_idle()
            # One-time news about the wallet files (e.g. permissions just made owner-only).
            notice = wallet.take_notice()
            show = getattr(self.parent(), "show_notice", None)
            if notice and show is not None:
                show(notice)

    @Slot(bool)
    def on_prepare_for_sleep(self, going_to_sleep: bool) -> None:
        if going_to_sleep:
            self._lock("locked because the computer went to sleep")

    @Slot(bool)
    def on_screen_saver(self, active: bool) -> None:
        if active:
            self._lock("locked because the screen was locked")

    def _listen_to_os(self) -> None:
        self.os_sources = self._connect_dbus()

    def _connect_dbus(self) -> list[str]:
        """Subscribe to the OS signals that exist here; the names of those that worked."""
        try:
            from PySide6.QtCore import SLOT
            from PySide6.QtDBus import QDBusConnection
        except ImportError:  # a Qt build without D-Bus (Windows, macOS wheels)
            return []
        connected: list[str] = []
        for bus_name, service, path, iface, signal, kind in _DBUS_SOURCES:
            try:
                bus: Any = (QDBusConnection.systemBus() if bus_name == "system"
                            else QDBusConnection.sessionBus())
                if not bus.isConnected():
                    continue
                slot = "on_prepare_for_sleep(bool)" if kind == "sleep" else "on_screen_saver(bool)"
                if bus.connect(service, path, iface, signal, self, SLOT(slot)):
                    connected.append(f"{service}.{signal}")
            except Exception:  # an odd bus must never stop the window
                log.debug("D-Bus source %s unavailable", service, exc_info=True)
        if connected:
            log.info("wallet locks on: %s", ", ".join(connected))
        return connected
