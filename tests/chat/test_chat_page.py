"""The Chat page with real widgets (offscreen), the real SmolLM2 and the real SQLite store:
what a user does — ask, watch the answer stream in, stop, regenerate, edit, find old chats."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import pytest_asyncio
import qasync
from PySide6.QtCore import QUrl
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from app.inference.types import ChatEngine, SamplingParams
from app.services.context import AppContext
from app.storage.chats import ChatStore, ModelSettings
from app.ui.chat.sources import ChatSource, add_source_provider
from app.ui.chat.widgets import TranscriptEntry
from app.ui.chat_page import ChatPage
from tests.api.local_engine import MODEL_NAME

pytestmark = pytest.mark.asyncio(loop_scope="module")

LABEL = "This computer · SmolLM2"
COUNTING = "Count from 1 to 100, separated by commas."


def greedy(max_tokens: int, system_prompt: str = "") -> ModelSettings:
    return ModelSettings(system_prompt, SamplingParams(max_tokens=max_tokens, temperature=0.0))


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "chats.sqlite3"


@pytest_asyncio.fixture(loop_scope="module")
async def page(qtbot: QtBot, db_path: Path, real_engine: ChatEngine) -> ChatPage:
    store = ChatStore(db_path)
    store.save_model_settings(MODEL_NAME, greedy(6))
    p = ChatPage(AppContext(), sources=[ChatSource(LABEL, real_engine, MODEL_NAME)], store=store)
    qtbot.addWidget(p)
    p.resize(1000, 700)
    p.show()
    return p


async def test_answer_streams_into_the_view_and_is_saved(page: ChatPage) -> None:
    seen_while_busy: list[str] = []
    page.view.streamed.connect(lambda text: seen_while_busy.append(text) if page.busy else None)
    page.prompt.setPlainText(COUNTING)
    page.send_button.click()
    task = page.generation_task
    assert task is not None and page.busy
    assert not page.send_button.isEnabled() and page.stop_button.isEnabled()
    await task

    assert seen_while_busy, "text should reach the screen while the answer is being generated"
    [question, answer] = page.messages()
    assert (question.role, question.content) == ("user", COUNTING)
    assert answer.role == "assistant" and answer.content.strip()
    assert "".join(seen_while_busy) == answer.content  # what streamed is what was kept
    assert answer.metrics is not None and answer.metrics.finish_reason == "length"
    assert 0 < answer.metrics.completion_tokens <= 6
    shown = page.transcript_text()
    assert COUNTING in shown and answer.content.strip()[:5] in shown
    assert "tokens/s" in shown and "first token" in shown  # metrics under the answer
    assert page.prompt.toPlainText() == ""
    assert page.send_button.isEnabled() and not page.stop_button.isEnabled()
    assert page.conversation_titles() == [COUNTING]  # named after the first question


async def test_stop_ends_a_long_answer_and_keeps_what_was_written(page: ChatPage) -> None:
    page.store.save_model_settings(MODEL_NAME, ModelSettings("", SamplingParams(max_tokens=500)))
    first_text = asyncio.Event()
    page.view.streamed.connect(lambda _t: first_text.set())
    task = page.send("Write a very long story about a dragon who learns to bake bread.")
    assert task is not None
    await asyncio.wait_for(first_text.wait(), 120)
    page.stop_button.click()
    await asyncio.wait_for(task, 30)

    answer = page.messages()[-1]
    assert answer.role == "assistant" and answer.content
    assert answer.metrics is not None and answer.metrics.finish_reason == "cancelled"
    assert answer.metrics.completion_tokens < 500
    assert "stopped" in page.transcript_text()
    assert page.send_button.isEnabled() and not page.busy


async def test_regenerate_replaces_the_answer(page: ChatPage) -> None:
    task = page.send(COUNTING)
    assert task is not None
    await task
    old = page.messages()[-1]
    # the user asks for longer answers, then regenerates
    page.settings_button.click()
    page.settings_panel.max_tokens.setValue(12)
    page.settings_panel.save_button.click()
    assert page.store.model_settings(MODEL_NAME).params.max_tokens == 12
    page.regenerate_button.click()
    assert page.generation_task is not None
    await page.generation_task

    msgs = page.messages()
    assert [m.role for m in msgs] == ["user", "assistant"]  # replaced, not appended
    new = msgs[-1]
    assert new.content != old.content
    assert new.metrics is not None and new.metrics.completion_tokens > 6
    assert new.content.startswith(old.content)  # greedy: same start, now longer
    assert page.transcript_text().count("tokens/s") == 1  # one answer on screen, the new one


async def test_edit_and_resend_the_last_question(page: ChatPage) -> None:
    task = page.send("Say hello.")
    assert task is not None
    await task
    page.edit_button.click()
    assert page.prompt.toPlainText() == "Say hello."
    page.prompt.setPlainText("Say goodbye.")
    page.send_button.click()
    assert page.generation_task is not None
    await page.generation_task
    msgs = page.messages()
    assert [(m.role, m.content) for m in msgs[:1]] == [("user", "Say goodbye.")]
    assert [m.role for m in msgs] == ["user", "assistant"]
    assert "Say hello." not in page.transcript_text()


async def test_history_reloads_and_can_be_searched_renamed_and_deleted(
    page: ChatPage, qtbot: QtBot, db_path: Path, real_engine: ChatEngine, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    for question in ("Name a fruit.", "Name a colour."):
        page.new_button.click()
        task = page.send(question)
        assert task is not None
        await task
    answer = page.messages()[-1].content

    # a fresh page on the same file: as after restarting the program
    again = ChatPage(
        AppContext(), sources=[ChatSource(LABEL, real_engine, MODEL_NAME)], store=ChatStore(db_path)
    )
    qtbot.addWidget(again)
    assert again.conversation_titles() == ["Name a colour.", "Name a fruit."]
    again.conversation_list.setCurrentRow(0)
    assert again.transcript_text().count("Name a colour.") >= 1
    assert answer.strip()[:5] in again.transcript_text()

    refreshed = asyncio.Event()
    again.conversations_refreshed.connect(refreshed.set)
    again.search_box.setText("fruit")
    await asyncio.wait_for(refreshed.wait(), 5)
    assert again.conversation_titles() == ["Name a fruit."]
    refreshed.clear()
    again.search_box.setText("")
    await asyncio.wait_for(refreshed.wait(), 5)

    item = again.conversation_list.item(1)  # rename in place, as a double-click edit does
    item.setText("Fruit chat")
    assert sorted(c.title for c in again.store.list_conversations()) == [
        "Fruit chat",
        "Name a colour.",
    ]
    again.conversation_list.setCurrentRow(again.conversation_titles().index("Fruit chat"))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    again.delete_button.click()
    assert again.conversation_titles() == ["Name a colour."]
    assert [c.title for c in again.store.list_conversations()] == ["Name a colour."]


async def test_too_long_prompt_shows_a_clear_message_and_keeps_the_question(
    page: ChatPage,
) -> None:
    long_text = "The quick brown fox jumps over the lazy dog. " * 400
    task = page.send(long_text)
    assert task is not None
    await task
    assert "too long" in page.status.text()
    assert [m.role for m in page.messages()] == ["user"]  # the question is not lost
    assert page.send_button.isEnabled()


async def test_model_picker_lists_local_models_and_plugged_in_sources(
    qtbot: QtBot, db_path: Path, real_engine: ChatEngine
) -> None:
    assert isinstance(asyncio.get_running_loop(), qasync.QEventLoop)  # as in the app
    ctx = AppContext()
    ctx.engine = real_engine

    async def remote_sources() -> list[ChatSource]:
        return [ChatSource("Provider 0xabc · llama-3", real_engine, MODEL_NAME)]

    add_source_provider(ctx, remote_sources)
    page = ChatPage(ctx, store=ChatStore(db_path))
    qtbot.addWidget(page)
    await page.refresh_sources()
    labels = [page.model_picker.itemText(i) for i in range(page.model_picker.count())]
    assert labels == [f"This computer · {MODEL_NAME}", "Provider 0xabc · llama-3"]
    assert page.current_source() is not None


async def test_copy_links_put_code_and_messages_on_the_clipboard(page: ChatPage) -> None:
    copied: list[str] = []
    page.view.copied.connect(copied.append)
    page.view.show_entries(
        [
            TranscriptEntry("user", "How do I list files?"),
            TranscriptEntry("assistant", "Use:\n\n```bash\nls -la\n```\n", LABEL),
        ]
    )
    assert 'href="copy-code:0"' in page.view.toHtml() or "Copy" in page.transcript_text()
    page.view.anchorClicked.emit(QUrl("copy-code:0"))
    assert QGuiApplication.clipboard().text() == "ls -la"
    page.view.anchorClicked.emit(QUrl("copy-msg:1"))
    assert QGuiApplication.clipboard().text() == "Use:\n\n```bash\nls -la\n```\n"
    assert copied == ["ls -la", "Use:\n\n```bash\nls -la\n```\n"]
    assert "Copied" in page.status.text()


async def test_bundled_model_is_offered_at_once_and_started_on_first_message(
    qtbot: QtBot, db_path: Path, tmp_path: Path
) -> None:
    from app.inference.library import BUNDLED_NAME
    from app.paths import AppPaths
    from app.services.app_services import services_of

    ctx = AppContext(paths=AppPaths(*(tmp_path / d for d in ("c", "d", "l", "k"))).ensure())
    store = ChatStore(db_path)
    store.save_model_settings(BUNDLED_NAME, greedy(2))
    page = ChatPage(ctx, store=store)
    qtbot.addWidget(page)
    await page.refresh_sources()
    assert page.model_picker.currentText() == f"This computer · {BUNDLED_NAME}"
    assert ctx.engine is None  # nothing loaded just to open the page
    try:
        task = page.send("Hi")
        assert task is not None
        await task
        assert ctx.engine is not None  # the app's shared engine, now running
        answer = page.messages()[-1]
        assert answer.role == "assistant" and answer.content
        assert page.status.text() == ""
    finally:
        await services_of(ctx).stop()


async def test_switching_chats_mid_answer_keeps_each_chat_separate(page: ChatPage) -> None:
    other = page.store.create_conversation("Other chat")
    page.store.add_message(other.id, "user", "An older question")
    page.refresh_conversations()
    page.store.save_model_settings(MODEL_NAME, ModelSettings("", SamplingParams(max_tokens=500)))
    first_text = asyncio.Event()
    # Enough of the answer on screen that it could not hide inside the other chat's words.
    page.view.streamed.connect(
        lambda _t: first_text.set() if len(page.view.streamed_text()) >= 40 else None)
    task = page.send("Write a very long story about a lighthouse keeper.")
    assert task is not None
    generating = page.conversation_id
    await asyncio.wait_for(first_text.wait(), 120)
    row = page.conversation_titles().index("Other chat")
    page.conversation_list.setCurrentRow(row)  # the user clicks the other chat
    await asyncio.wait_for(task, 30)

    assert page.conversation_id == other.id
    assert "lighthouse" not in page.transcript_text()
    assert "An older question" in page.transcript_text()
    assert generating is not None
    kept = page.store.messages(generating)[-1]
    assert kept.role == "assistant" and kept.metrics is not None
    assert kept.metrics.finish_reason == "cancelled"
    assert kept.content not in page.transcript_text()


async def test_streamed_tokens_are_batched_into_few_document_updates(page: ChatPage) -> None:
    view = page.view
    view.show_entries([TranscriptEntry("user", "Go")])
    before = view.toPlainText()
    flushed = asyncio.Event()
    view.streamed.connect(lambda _t: flushed.set())
    view.begin_stream(LABEL)
    for i in range(500):  # a burst of tokens between two timer ticks
        view.append_text(f"t{i} ")
    await asyncio.wait_for(flushed.wait(), 5)
    assert view.flush_count == 1  # one insert for the whole burst, not 500 re-renders
    view.end_stream()
    text = view.toPlainText()
    assert text.startswith(before.rstrip()) and text.rstrip().endswith("t499")
    assert view.streamed_text() == "".join(f"t{i} " for i in range(500))
