"""Widgets of the chat page: the prompt box; the transcript view and the per-model settings panel
live in :mod:`app.ui.chat.transcript` and :mod:`app.ui.chat.settings_panel` (re-exported here).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QPlainTextEdit

from app.ui.chat.settings_panel import PRESETS, ModelSettingsPanel
from app.ui.chat.transcript import (
    STREAM_FLUSH_MS,
    ChatView,
    TranscriptEntry,
    live_speed_text,
    metrics_text,
)

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
