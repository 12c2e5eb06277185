"""The Chat page as a user feels it, with the real SmolLM2 (small context) and real widgets
offscreen: a too-long message never breaks the chat, an outgrown chat still gets answers, a
20,000-character paste does not freeze the window, answers render as markdown while they stream
with their speed live under them, and presets set the sampling values."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import pytest_asyncio
from PySide6.QtCore import Qt, QTimer
from pytestqt.qtbot import QtBot

from app.inference.engine import LocalEngine
from app.inference.types import SamplingParams
from app.services.context import AppContext
from app.storage.chats import ChatStore, ModelSettings
from app.ui.chat.settings_panel import PRESETS, TIPS
from app.ui.chat.sources import ChatSource
from app.ui.chat.widgets import TranscriptEntry
from app.ui.chat_page import ChatPage
from tests.ui_remote.conftest import MODEL_NAME

pytestmark = pytest.mark.asyncio(loop_scope="module")

LABEL = f"This computer · {MODEL_NAME}"
PASTE = ("The quick brown fox jumps over the lazy dog again and again. " * 340)[:20_000]


class GapMeter:
    """The longest time the Qt event loop went without a turn (a 5 ms timer's gaps)."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.longest_ms = 0.0
        self._last = time.perf_counter()
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest_ms = max(self.longest_ms, (now - self._last) * 1000)
        self._last = now


@pytest_asyncio.fixture(loop_scope="module")
async def page(qtbot: QtBot, tmp_path: Path, smol_engine: LocalEngine) -> ChatPage:
    store = ChatStore(tmp_path / "chats.sqlite3")
    store.save_model_settings(MODEL_NAME, ModelSettings(
        "", SamplingParams(max_tokens=6, temperature=0.0)))
    p = ChatPage(AppContext(), sources=[ChatSource(LABEL, smol_engine, MODEL_NAME)], store=store)
    qtbot.addWidget(p)
    p.resize(1000, 700)
    p.show()
    return p


async def ask(page: ChatPage, text: str) -> None:
    task = page.send(text)
    assert task is not None
    await task


async def test_too_long_message_leaves_the_chat_usable(page: ChatPage) -> None:
    await ask(page, "Say hi.")
    assert [m.role for m in page.messages()] == ["user", "assistant"]

    # A 20,000-character paste: handled without freezing the window, and answered by a message
    # that says exactly what to do.
    meter = GapMeter()
    page.prompt.setPlainText(PASTE)
    page.send_button.click()
    assert page.generation_task is not None
    await page.generation_task
    meter.timer.stop()
    status = page.status.text()
    assert "too long" in status and "Shorten it" in status and "words" in status
    assert page.status.property("role") == "error"
    assert meter.longest_ms < 1000, f"the window froze for {meter.longest_ms:.0f} ms"
    assert not page.busy and page.send_button.isEnabled()
    assert page.messages()[-1].content == PASTE.strip()  # the message is kept, not lost

    # The next normal message is answered: the chat is not broken.
    await ask(page, "Name a colour.")
    last = page.messages()[-1]
    assert last.role == "assistant" and last.content.strip()
    assert page.status.property("role") != "error" and "too long" not in page.status.text()

    # A new chat starts clean: no old error, and it answers.
    page.prompt.setPlainText(PASTE)
    page.send_button.click()
    assert page.generation_task is not None
    await page.generation_task
    assert "too long" in page.status.text()
    page.new_button.click()
    assert page.status.text() == "" and page.transcript_text().startswith("Ask anything")
    await ask(page, "Say hello.")
    assert [m.role for m in page.messages()] == ["user", "assistant"]
    assert page.status.text() == ""


async def test_a_chat_longer_than_the_model_reads_still_gets_answers(page: ChatPage) -> None:
    store = page.store
    conv = store.create_conversation("Long chat", MODEL_NAME)
    turn = "Tell me more about the history of lighthouses and their keepers. " * 14
    for i in range(6):  # ~6 × 2 × 200 tokens: well past the model's 1,024
        store.add_message(conv.id, "user", f"{i}: {turn}", model=MODEL_NAME)
        store.add_message(conv.id, "assistant", f"Answer {i}: {turn}", model=MODEL_NAME)
    page.refresh_conversations()
    page.open_conversation(conv.id)
    await ask(page, "Thanks. Say bye.")
    last = page.messages()[-1]
    assert last.role == "assistant" and last.content.strip()
    assert "oldest" in page.status.text() and "not sent" in page.status.text()
    assert page.status.property("role") != "error"
    page.new_button.click()
    assert page.status.text() == ""


async def test_answer_renders_as_markdown_while_it_streams_with_live_speed(
    page: ChatPage,
) -> None:
    view = page.view
    view.show_entries([TranscriptEntry("user", "Show me")])
    view.begin_stream(LABEL)
    assert "Thinking" in view.toPlainText()
    for piece in ("# Plan\n\n", "Some **bold", "** words.\n\n", "```python\n", "print(1)\n"):
        view.append_text(piece)
    view.flush()
    shown = view.toPlainText()
    assert "Plan" in shown and "# Plan" not in shown  # a heading, not raw markdown
    assert "bold words." in shown and "**" not in shown
    assert "print(1)" in shown and "```" not in shown  # the open code block already shows
    assert "tokens/s" in view.live_text and view.live_text in shown  # speed, live
    assert view.code_blocks == ["print(1)"]  # and its Copy button works while streaming
    html = view.toHtml()
    assert "<hr" not in html  # no rule that could be drawn across the text
    blocks_before = view.document().blockCount()
    view.append_text("```\n\nDone.")
    view.flush()
    assert view.document().blockCount() >= blocks_before
    view.end_stream()
    final = view.toPlainText()
    assert final.rstrip().endswith("Done.") and "tokens/s" not in final
    assert final.count("Plan") == 1 and final.count("print(1)") == 1  # rendered once each
    assert view.code_blocks == ["print(1)"]


async def test_presets_set_the_values_and_advanced_shows_them_with_tooltips(
    page: ChatPage,
) -> None:
    panel = page.settings_panel
    page.settings_button.click()
    assert panel.isVisible() and not panel.advanced.isVisible()
    precise = next(p for p in PRESETS if p.name == "Precise")
    panel.preset_buttons["Precise"].click()
    saved = page.store.model_settings(MODEL_NAME).params
    assert (saved.temperature, saved.top_p, saved.top_k) == (
        precise.temperature, precise.top_p, precise.top_k)
    assert saved.max_tokens == 6  # a preset does not touch the answer length
    assert panel.preset_buttons["Precise"].isChecked()
    panel.advanced_button.click()
    assert panel.advanced.isVisible()
    for box in (panel.temperature, panel.top_p, panel.top_k, panel.max_tokens,
                panel.repeat_penalty):
        assert box.toolTip() in TIPS.values() and box.accessibleName()
    panel.temperature.setValue(1.7)
    assert not any(b.isChecked() for b in panel.preset_buttons.values())
    assert "Custom" in panel.preset_label.text()
    page.settings_button.click()
