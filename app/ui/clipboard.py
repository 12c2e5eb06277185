"""Copying secrets (recovery phrase, API key): gone from the clipboard after a minute.

The copy carries the hints that clipboard managers honour to keep a secret out of their history
(KDE Klipper, Windows clipboard history and cloud sync, macOS pasteboard managers). After
``clear_after_ms``, or when the program quits (a shutdown hook of the main window's wallet lock
watcher), the clipboard is emptied if it still holds the secret; anything the user copied since
is left alone.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QMimeData, QTimer
from PySide6.QtGui import QGuiApplication

SECRET_CLEAR_MS = 60_000

_HINTS: dict[str, bytes] = {
    "x-kde-passwordManagerHint": b"secret",  # KDE Klipper
    "ExcludeClipboardContentFromMonitorProcessing": b"1",  # Windows clipboard managers
    "CanIncludeInClipboardHistory": (0).to_bytes(4, "little"),  # Windows 10+ history
    "CanUploadToCloudClipboard": (0).to_bytes(4, "little"),  # Windows cloud clipboard
    "org.nspasteboard.ConcealedType": b"",  # macOS clipboard managers
}

_pending: list[str] = []  # secrets whose clearing timer has not fired yet


def _clear_if_still(text: str) -> None:
    if text in _pending:
        _pending.remove(text)
    clipboard = QGuiApplication.clipboard()
    if clipboard.text() == text:
        clipboard.clear()


def clear_pending_secrets() -> None:
    """Clear every copied secret still on the clipboard (the program is quitting)."""
    for text in list(_pending):
        _clear_if_still(text)


def copy_secret(text: str, clear_after_ms: int = SECRET_CLEAR_MS) -> None:
    """Put ``text`` on the clipboard as a secret; clear it after ``clear_after_ms``."""
    mime = QMimeData()
    mime.setText(text)
    for fmt, value in _HINTS.items():
        mime.setData(fmt, QByteArray(value))
    QGuiApplication.clipboard().setMimeData(mime)

    # singleShot owns its timer in Qt, so no Python object dies inside its own signal.
    QTimer.singleShot(clear_after_ms, lambda: _clear_if_still(text))
    _pending.append(text)
