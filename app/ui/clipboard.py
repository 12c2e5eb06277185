"""Copying secrets (recovery phrase, API key): gone from the clipboard after a minute.

The copy carries the hints that clipboard managers honour to keep a secret out of their history
(KDE Klipper, Windows clipboard history and cloud sync, macOS pasteboard managers). After
``clear_after_ms``, or when the program quits, the clipboard is emptied if it still holds the
secret; anything the user copied since is left alone.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QCoreApplication, QMimeData, QTimer
from PySide6.QtGui import QGuiApplication

SECRET_CLEAR_MS = 60_000

_HINTS: dict[str, bytes] = {
    "x-kde-passwordManagerHint": b"secret",  # KDE Klipper
    "ExcludeClipboardContentFromMonitorProcessing": b"1",  # Windows clipboard managers
    "CanIncludeInClipboardHistory": (0).to_bytes(4, "little"),  # Windows 10+ history
    "CanUploadToCloudClipboard": (0).to_bytes(4, "little"),  # Windows cloud clipboard
    "org.nspasteboard.ConcealedType": b"",  # macOS clipboard managers
}

_pending: list[QTimer] = []


def _clear_if_still(text: str) -> None:
    clipboard = QGuiApplication.clipboard()
    if clipboard.text() == text:
        clipboard.clear()


def copy_secret(text: str, clear_after_ms: int = SECRET_CLEAR_MS) -> None:
    """Put ``text`` on the clipboard as a secret; clear it after ``clear_after_ms``."""
    mime = QMimeData()
    mime.setText(text)
    for fmt, value in _HINTS.items():
        mime.setData(fmt, QByteArray(value))
    QGuiApplication.clipboard().setMimeData(mime)

    timer = QTimer()
    timer.setSingleShot(True)
    timer.setInterval(clear_after_ms)

    def fire() -> None:
        _clear_if_still(text)
        if timer in _pending:
            _pending.remove(timer)

    timer.timeout.connect(fire)
    timer.start()
    _pending.append(timer)
    app = QCoreApplication.instance()
    if app is not None:  # quitting before the minute is up clears it too
        app.aboutToQuit.connect(lambda: _clear_if_still(text))
