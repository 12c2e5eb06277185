"""Widgets of the chat page: the transcript view, the prompt box and the per-model settings panel.

The transcript is a QTextBrowser: finished messages are rendered once from markdown to HTML; an
answer being generated is appended as plain text at the end of the document through a cursor, in
batches on a short timer, so a long answer costs one small insert per batch instead of a re-render
per token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QGuiApplication, QKeyEvent, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.inference.types import CompletionMetrics, SamplingParams
from app.storage.chats import ModelSettings
from app.ui.chat.markdown import COPY_CODE_SCHEME, COPY_MESSAGE_SCHEME, render_markdown

STREAM_FLUSH_MS = 40


@dataclass(frozen=True)
class TranscriptEntry:
    role: str
    content: str
    label: str = ""
    metrics: CompletionMetrics | None = None


def metrics_text(m: CompletionMetrics) -> str:
    """The line under an answer: speed first, since that is what users compare."""
    parts = [f"{m.tokens_per_s:.1f} tokens/s", f"first token {m.ttft_ms:.0f} ms"]
    parts.append(f"{m.completion_tokens} tokens")
    if m.finish_reason == "cancelled":
        parts.append("stopped")
    elif m.finish_reason == "length":
        parts.append("hit the length limit")
    return " · ".join(parts)


class ChatView(QTextBrowser):
    """The conversation transcript with copy links for code blocks and whole messages."""

    copied = Signal(str)
    streamed = Signal(str)  # a batch of answer text just reached the screen

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.anchorClicked.connect(self._on_anchor)
        self._code_blocks: list[str] = []
        self._message_texts: list[str] = []
        self._pending: list[str] = []
        self._stream_cursor: QTextCursor | None = None
        self._streamed: list[str] = []
        self._flush_timer = QTimer(self)
        self._flush_timer.setInterval(STREAM_FLUSH_MS)
        self._flush_timer.timeout.connect(self.flush)
        self.flush_count = 0  # how many times streamed text hit the document (tests, tuning)

    # full renders ------------------------------------------------------------------------------
    def show_entries(self, entries: Sequence[TranscriptEntry]) -> None:
        # A full render replaces the document: an answer still streaming (e.g. the user switched
        # conversations) must not write its last batch into the new one.
        self._stream_cursor = None
        self._pending = []
        self._flush_timer.stop()
        self._code_blocks = []
        self._message_texts = []
        html: list[str] = []
        for entry in entries:
            html.append(self._entry_html(entry))
        if not entries:
            html.append('<p style="color:#6b7280;">Ask anything to start a conversation.</p>')
        self.setHtml("".join(html))
        self._scroll_to_end()

    def _entry_html(self, entry: TranscriptEntry) -> str:
        index = len(self._message_texts)
        self._message_texts.append(entry.content)
        who = "You" if entry.role == "user" else (entry.label or "Assistant")
        if entry.role == "system":
            who = "System"
        rendered = render_markdown(entry.content, code_offset=len(self._code_blocks))
        self._code_blocks.extend(rendered.code_blocks)
        footer = ""
        if entry.role == "assistant":
            bits = []
            if entry.metrics is not None:
                bits.append(escape(metrics_text(entry.metrics)))
            bits.append(f'<a href="{COPY_MESSAGE_SCHEME}:{index}">Copy</a>')
            footer = f'<p style="color:#6b7280; font-size:small;">{" · ".join(bits)}</p>'
        return f"<p><b>{escape(who)}</b></p>{rendered.html}{footer}<hr/>"

    # streaming ---------------------------------------------------------------------------------
    def begin_stream(self, label: str) -> None:
        """Start an answer at the end of the document; tokens follow via :meth:`append_text`."""
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertHtml(f"<p><b>{escape(label or 'Assistant')}</b></p>")
        cursor.insertBlock()
        cursor.setCharFormat(QTextCharFormat())
        self._stream_cursor = cursor
        self._pending = []
        self._streamed = []
        self._flush_timer.start()
        self._scroll_to_end()

    def append_text(self, text: str) -> None:
        self._pending.append(text)

    def flush(self) -> None:
        if not self._pending or self._stream_cursor is None:
            return
        text = "".join(self._pending)
        self._pending = []
        self._streamed.append(text)
        bar = self.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 4
        self._stream_cursor.insertText(text)
        self.flush_count += 1
        if at_end:
            bar.setValue(bar.maximum())
        self.streamed.emit(text)

    def end_stream(self) -> None:
        self.flush()
        self._flush_timer.stop()
        self._stream_cursor = None

    @property
    def streaming(self) -> bool:
        return self._stream_cursor is not None

    def streamed_text(self) -> str:
        """What has reached the screen of the answer being streamed."""
        return "".join(self._streamed)

    # copy --------------------------------------------------------------------------------------
    @property
    def code_blocks(self) -> list[str]:
        return list(self._code_blocks)

    def _on_anchor(self, url: QUrl) -> None:
        scheme, _, rest = url.toString().partition(":")
        if scheme in (COPY_CODE_SCHEME, COPY_MESSAGE_SCHEME):
            items = self._code_blocks if scheme == COPY_CODE_SCHEME else self._message_texts
            try:
                text = items[int(rest)]
            except (ValueError, IndexError):
                return
            QGuiApplication.clipboard().setText(text)
            self.copied.emit(text)
        elif url.scheme() in ("http", "https"):
            from PySide6.QtGui import QDesktopServices

            QDesktopServices.openUrl(url)

    def _scroll_to_end(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())


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


class ModelSettingsPanel(QWidget):
    """System prompt and sampling for one model; spin box ranges keep every value valid."""

    saved = Signal(object)  # ModelSettings

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._stop: tuple[str, ...] = ()
        self._seed: int | None = None
        self.system_prompt = QPlainTextEdit()
        self.system_prompt.setPlaceholderText("e.g. You are a concise assistant.")
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.05)
        self.top_p = QDoubleSpinBox()
        self.top_p.setRange(0.05, 1.0)
        self.top_p.setSingleStep(0.05)
        self.top_k = QSpinBox()
        self.top_k.setRange(0, 500)
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(1, 32768)
        self.repeat_penalty = QDoubleSpinBox()
        self.repeat_penalty.setRange(0.5, 2.0)
        self.repeat_penalty.setSingleStep(0.05)
        self.system_prompt.setMaximumHeight(64)
        grid = QGridLayout()
        grid.addWidget(QLabel("System prompt"), 0, 0)
        grid.addWidget(self.system_prompt, 0, 1, 1, 5)
        for i, (label, box) in enumerate(
            (
                ("Temperature", self.temperature),
                ("Top-p", self.top_p),
                ("Top-k", self.top_k),
                ("Max answer tokens", self.max_tokens),
                ("Repeat penalty", self.repeat_penalty),
            )
        ):
            row, col = 1 + i // 3, (i % 3) * 2
            grid.addWidget(QLabel(label), row, col)
            grid.addWidget(box, row, col + 1)
        self.save_button = QPushButton("Save for this model")
        self.reset_button = QPushButton("Defaults")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.reset_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(grid)
        layout.addLayout(buttons)
        self.save_button.clicked.connect(lambda: self.saved.emit(self.settings()))
        self.reset_button.clicked.connect(lambda: self.load(ModelSettings()))
        self.load(ModelSettings())

    def load(self, settings: ModelSettings) -> None:
        p = settings.params
        self.system_prompt.setPlainText(settings.system_prompt)
        self.temperature.setValue(p.temperature)
        self.top_p.setValue(p.top_p)
        self.top_k.setValue(p.top_k)
        self.max_tokens.setValue(p.max_tokens)
        self.repeat_penalty.setValue(p.repeat_penalty)
        self._stop, self._seed = p.stop, p.seed

    def settings(self) -> ModelSettings:
        return ModelSettings(
            system_prompt=self.system_prompt.toPlainText().strip(),
            params=SamplingParams(
                max_tokens=self.max_tokens.value(),
                temperature=round(self.temperature.value(), 3),
                top_p=round(self.top_p.value(), 3),
                top_k=self.top_k.value(),
                repeat_penalty=round(self.repeat_penalty.value(), 3),
                stop=self._stop,
                seed=self._seed,
            ),
        )
