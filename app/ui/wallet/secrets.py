"""Showing and copying secrets on the Wallet page: the clipboard forgets them after a minute."""

from __future__ import annotations

from typing import Any

from app.ui.clipboard import SECRET_CLEAR_MS, copy_secret

CLIPBOARD_CLEAR_MS = SECRET_CLEAR_MS


def copy_secret_to_clipboard(text: str, clear_after_ms: int = CLIPBOARD_CLEAR_MS) -> None:
    """Copy, then wipe the clipboard after a minute unless something else was copied since."""
    copy_secret(text, clear_after_ms)


def selectable() -> Any:
    """Text a user may select and copy (an address, a hash), never edit."""
    from PySide6.QtCore import Qt

    return Qt.TextInteractionFlag.TextSelectableByMouse
