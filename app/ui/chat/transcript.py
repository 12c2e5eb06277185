"""The conversation transcript: your messages as bubbles, answers under a header naming the model,
code blocks with a Copy button, and the answer being generated rendered as markdown while it
streams, with its speed live under it.

Why it is built this way: a QTextBrowser shows the whole conversation as one document (select,
copy and search work across messages, and thousands of lines cost little). Finished messages are
rendered once from markdown. While an answer streams, the blocks it has completed (up to the last
blank line outside a code fence) are rendered once and appended; only the open tail and the speed
line after it are replaced, on a short timer, so a long answer never re-renders from the top and
nothing half-rendered (a rule, a table) is left behind over the text. No ``<hr>`` is used: Qt
carries a rule's block format into the next block, which drew lines across the streamed text.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QTextBrowser, QWidget

if TYPE_CHECKING:
    from PySide6.QtCore import QUrl
    from PySide6.QtGui import QTextCursor

    from app.inference.types import CompletionMetrics

# The text-cursor classes, ``html``, the markdown renderer and the clipboard are imported where
# an answer is shown, streamed or copied: the empty transcript of the first page needs none.

STREAM_FLUSH_MS = 40


class TranscriptEntry(NamedTuple):  # (NamedTuples: ~1 ms less each than dataclasses)
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


def live_speed_text(tokens: int, first_at: float | None, now: float) -> str:
    """The line under an answer while it is written."""
    if first_at is None or tokens == 0:
        return "Thinking…"
    gen = now - first_at
    rate = (tokens - 1) / gen if tokens > 1 and gen > 0 else 0.0
    return f"Writing… {rate:.1f} tokens/s · {tokens} tokens"


class Colors(NamedTuple):
    bubble: str
    muted: str


LIGHT = Colors(bubble="#e8effc", muted="#6b7280")
DARK = Colors(bubble="#27344a", muted="#9ca3af")


class ChatView(QTextBrowser):
    """The conversation transcript with copy links for code blocks and whole messages."""

    copied = Signal(str)
    streamed = Signal(str)  # a batch of answer text just reached the screen

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setAccessibleName("Conversation")
        self.anchorClicked.connect(self._on_anchor)
        self._code_blocks: list[str] = []
        self._tail_code: list[str] = []
        self._message_texts: list[str] = []
        self._pending: list[str] = []
        self._stream_cursor: QTextCursor | None = None
        self._streamed: list[str] = []
        self._stream_text = ""
        self._done_len = 0
        self._tail_pos = 0
        self._tokens = 0
        self._first_at: float | None = None
        self._flush_timer = QTimer(self)
        self._flush_timer.setInterval(STREAM_FLUSH_MS)
        self._flush_timer.timeout.connect(self.flush)
        self.flush_count = 0  # how many times streamed text hit the document (tests, tuning)
        self.live_text = ""  # the speed line under the answer being written

    @property
    def colors(self) -> Colors:
        dark = self.palette().color(QPalette.ColorRole.Base).lightness() < 128
        return DARK if dark else LIGHT

    # full renders ------------------------------------------------------------------------------
    def show_entries(self, entries: Sequence[TranscriptEntry]) -> None:
        # A full render replaces the document: an answer still streaming (e.g. the user switched
        # conversations) must not write its last batch into the new one.
        self._stream_cursor = None
        self._pending = []
        self._flush_timer.stop()
        self._code_blocks = []
        self._tail_code = []
        self._message_texts = []
        html: list[str] = []
        for entry in entries:
            html.append(self._entry_html(entry))
        if not entries:
            html.append(f'<p style="color:{self.colors.muted};">Ask anything to start a '
                        "conversation.</p>")
        self.setHtml("".join(html))
        self._scroll_to_end()

    def _entry_html(self, entry: TranscriptEntry) -> str:
        from html import escape

        from app.ui.chat.markdown import COPY_MESSAGE_SCHEME, render_markdown

        c = self.colors
        index = len(self._message_texts)
        self._message_texts.append(entry.content)
        if entry.role == "system":
            return (f'<p align="center" style="color:{c.muted}; font-size:small; '
                    f'margin-top:8px; margin-bottom:8px;"><i>{escape(entry.content)}</i></p>')
        rendered = render_markdown(entry.content, code_offset=len(self._code_blocks))
        self._code_blocks.extend(rendered.code_blocks)
        if entry.role == "user":
            return (
                '<table width="100%" cellspacing="0" cellpadding="10" '
                'style="margin-top:10px; margin-bottom:4px;"><tr><td width="12%"></td>'
                f'<td bgcolor="{c.bubble}"><p style="font-size:small; color:{c.muted};">'
                f"<b>You</b></p>{rendered.html}</td></tr></table>"
            )
        bits = []
        if entry.metrics is not None:
            bits.append(escape(metrics_text(entry.metrics)))
        bits.append(f'<a href="{COPY_MESSAGE_SCHEME}:{index}">Copy</a>')
        footer = (f'<p style="color:{c.muted}; font-size:small;">{" · ".join(bits)}</p>')
        return f"{self._answer_header(entry.label)}{rendered.html}{footer}"

    def _answer_header(self, label: str) -> str:
        from html import escape

        return (f'<p style="margin-top:14px;"><b>{escape(label or "Assistant")}</b>'
                f'<span style="color:{self.colors.muted};"> · Assistant</span></p>')

    # streaming ---------------------------------------------------------------------------------
    def begin_stream(self, label: str) -> None:
        """Start an answer at the end of the document; tokens follow via :meth:`append_text`."""
        from PySide6.QtGui import QTextBlockFormat, QTextCharFormat, QTextCursor

        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
        cursor.insertHtml(self._answer_header(label))
        cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
        self._tail_pos = cursor.position()
        self._stream_cursor = cursor
        self._pending = []
        self._streamed = []
        self._stream_text = ""
        self._done_len = 0
        self._tail_code = []
        self._tokens = 0
        self._first_at = None
        self._render_tail(live=True)
        self._flush_timer.start()
        self._scroll_to_end()

    def append_text(self, text: str, tokens: int = 1) -> None:
        if self._first_at is None:
            self._first_at = time.perf_counter()
        self._tokens += tokens
        self._pending.append(text)

    def flush(self) -> None:
        if not self._pending or self._stream_cursor is None:
            return
        text = "".join(self._pending)
        self._pending = []
        self._streamed.append(text)
        self._stream_text += text
        bar = self.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 4
        self._render_tail(live=True)
        self.flush_count += 1
        if at_end:
            bar.setValue(bar.maximum())
        self.streamed.emit(text)

    def _render_tail(self, *, live: bool) -> None:
        """Append newly completed blocks once, then replace the open tail and the speed line."""
        from html import escape

        from PySide6.QtGui import QTextBlockFormat, QTextCharFormat, QTextCursor

        from app.ui.chat.markdown import completed_length, render_markdown

        cursor = QTextCursor(self.document())
        cursor.setPosition(self._tail_pos)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        cursor.setBlockFormat(QTextBlockFormat())
        cursor.setCharFormat(QTextCharFormat())
        split = completed_length(self._stream_text, self._done_len)
        if split > self._done_len:
            done = render_markdown(self._stream_text[self._done_len:split],
                                   code_offset=len(self._code_blocks))
            self._code_blocks.extend(done.code_blocks)
            cursor.insertHtml(done.html)
            cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
            self._tail_pos = cursor.position()
            self._done_len = split
        tail = render_markdown(self._stream_text[self._done_len:],
                               code_offset=len(self._code_blocks))
        self._tail_code = tail.code_blocks
        html = tail.html
        if live:
            self.live_text = live_speed_text(self._tokens, self._first_at, time.perf_counter())
            html += (f'<p style="color:{self.colors.muted}; font-size:small;">'
                     f"{escape(self.live_text)}</p>")
        if html:
            cursor.insertHtml(html)

    def end_stream(self) -> None:
        self.flush()
        self._flush_timer.stop()
        if self._stream_cursor is not None:
            self._render_tail(live=False)  # the speed line goes; the full render shows metrics
        self._stream_cursor = None
        self.live_text = ""

    @property
    def streaming(self) -> bool:
        return self._stream_cursor is not None

    def streamed_text(self) -> str:
        """What has reached the screen of the answer being streamed."""
        return "".join(self._streamed)

    # copy --------------------------------------------------------------------------------------
    @property
    def code_blocks(self) -> list[str]:
        return [*self._code_blocks, *self._tail_code]

    def _on_anchor(self, url: QUrl) -> None:
        from app.ui.chat.markdown import COPY_CODE_SCHEME, COPY_MESSAGE_SCHEME

        scheme, _, rest = url.toString().partition(":")
        if scheme in (COPY_CODE_SCHEME, COPY_MESSAGE_SCHEME):
            items = self.code_blocks if scheme == COPY_CODE_SCHEME else self._message_texts
            try:
                text = items[int(rest)]
            except (ValueError, IndexError):
                return
            from PySide6.QtGui import QGuiApplication

            QGuiApplication.clipboard().setText(text)
            self.copied.emit(text)
        elif url.scheme() in ("http", "https"):
            from PySide6.QtGui import QDesktopServices

            QDesktopServices.openUrl(url)

    def _scroll_to_end(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())
