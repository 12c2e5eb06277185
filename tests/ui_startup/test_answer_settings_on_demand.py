"""The Chat page builds its answer settings panel only when the user opens it (most starts never
do): opened after switching models, it shows the chosen model's kept settings, and it follows
later switches like the panel built up front did."""

from __future__ import annotations

from app.api.router import LazyEngine
from app.inference.types import SamplingParams
from app.paths import AppPaths
from app.services.context import AppContext
from app.storage.chats import ChatStore, ModelSettings
from app.ui.chat.sources import ChatSource
from app.ui.chat_page import ChatPage


async def _never_started():  # the engine is only listed here, never asked for an answer
    raise AssertionError("no answer is asked for")


def _source(name: str) -> ChatSource:
    return ChatSource(f"This computer · {name}", LazyEngine(_never_started, name), name)


def test_settings_panel_opened_late_shows_the_chosen_models_settings(qtbot, tmp_path):
    paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "l", tmp_path / "k").ensure()
    store = ChatStore(tmp_path / "chats.sqlite3")
    store.save_model_settings("tiny", ModelSettings("Answer in French.",
                                                    SamplingParams(max_tokens=64)))
    store.save_model_settings("small", ModelSettings("Be brief.",
                                                     SamplingParams(max_tokens=128)))
    page = ChatPage(AppContext(paths=paths), sources=[_source("tiny"), _source("small")],
                    store=store)
    qtbot.addWidget(page)
    page.show()
    page.select_source("This computer · small")
    assert page.settings_slot.count() == 0  # not built until opened

    page.settings_button.click()
    panel = page.settings_panel
    assert panel.isVisible()
    assert panel.system_prompt.toPlainText() == "Be brief."
    assert panel.max_tokens.value() == 128

    page.select_source("This computer · tiny")
    assert panel.system_prompt.toPlainText() == "Answer in French."
    assert panel.max_tokens.value() == 64
    page.settings_button.click()
    assert not panel.isVisible()
