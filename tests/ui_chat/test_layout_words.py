"""The Chat page at 800x600 and 1440x900, with a long network model name: nothing clipped (the
picker elides, labels wrap, buttons fit), accessible names on every control, and no jargon (wei,
gas, RPC, nonce, anvil, bid id, job names) in any visible string outside "Advanced"."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QComboBox,
    QPlainTextEdit,
    QWidget,
)
from pytestqt.qtbot import QtBot

from app.inference.engine import LocalEngine
from app.services.context import AppContext
from app.storage.chats import ChatStore
from app.ui.chat.sources import LOCAL_DETAIL, ChatSource
from app.ui.chat.widgets import TranscriptEntry
from app.ui.chat_page import ChatPage
from tests.ui_chat.conftest import clipped, jargon
from tests.ui_remote.conftest import MODEL_NAME

pytestmark = pytest.mark.asyncio(loop_scope="module")

LONG = "Network · Meta-Llama-3.1-70B-Instruct-abliterated-Q4_K_M · 12 providers"

# The page's share of the main window at each size (the sidebar and status bar take the rest).
SIZES = ((800 - 180, 600 - 60), (1440 - 180, 900 - 60))


@pytest.mark.parametrize("size", SIZES)
async def test_chat_page_fits_and_speaks_plainly(
    qtbot: QtBot, tmp_path, smol_engine: LocalEngine, size: tuple[int, int]  # type: ignore[no-untyped-def]
) -> None:
    sources = [ChatSource(f"This computer · {MODEL_NAME}", smol_engine, MODEL_NAME, LOCAL_DETAIL),
               ChatSource(LONG, smol_engine, "network/x",
                          "from 0.036 MOR/hour · quality 4.2 / 5")]
    page = ChatPage(AppContext(), sources=sources, store=ChatStore(tmp_path / "c.sqlite3"))
    qtbot.addWidget(page)
    page.resize(*size)
    page.show()
    page.select_source(LONG)
    page.view.show_entries([TranscriptEntry("user", "Hi"),
                            TranscriptEntry("assistant", "Hello!", LONG)])
    page.settings_button.click()
    qtbot.waitExposed(page)
    assert page.model_picker.width() <= size[0]
    assert page.model_detail.text().startswith("from 0.036 MOR/hour")
    assert clipped(page) == []
    assert jargon(page) == []
    controls = (QAbstractButton, QComboBox, QPlainTextEdit, QAbstractSpinBox)
    for w in page.findChildren(QWidget):
        if isinstance(w, controls) and w.isVisible():
            assert w.accessibleName(), f"{type(w).__name__} {getattr(w, 'text', lambda: '')()!r}"
