"""Widgets of the chat page: the prompt box; the transcript view and the per-model settings panel
live in :mod:`app.ui.chat.transcript` and :mod:`app.ui.chat.settings_panel` (re-exported here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QPlainTextEdit

from app.ui.chat.transcript import (
    STREAM_FLUSH_MS,
    ChatView,
    TranscriptEntry,
    live_speed_text,
    metrics_text,
)

if TYPE_CHECKING:
    from app.ui.chat.settings_panel import PRESETS, ModelSettingsPanel


def __getattr__(name: str) -> Any:
    """The settings panel's names, imported when first asked for: the panel is built only when
    the user opens it (its spin boxes cost ~18 ms of start-up)."""
    if name in ("PRESETS", "ModelSettingsPanel"):
        from app.ui.chat import settings_panel

        return getattr(settings_panel, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PRESETS",
    "STREAM_FLUSH_MS",
    "ChatView",
    "ModelSettingsPanel",
    "PromptEdit",
    "TranscriptEntry",
    "live_speed_text",
    "metrics_text",
]


class PromptEdit(QPlainTextEdit):
    """Enter sends, Shift+Enter starts a new line, Escape asks to stop."""

    submitted = Signal()
    escape_pressed = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        from PySide6.QtCore import Qt  # not at import: see app.ui.first_paint

        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
            event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            self.submitted.emit()
            return
        if key == Qt.Key.Key_Escape:
            self.escape_pressed.emit()
            return
        super().keyPressEvent(event)
