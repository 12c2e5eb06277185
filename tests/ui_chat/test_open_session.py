"""The Open-session dialog and the buttons that spend MOR, on the real devnet with real providers
serving the real SmolLM2: the dialog is readable at its default size (every wrapped text shown in
full), says the most the session costs, what comes back at close and what is held until 00:00
UTC, with a "What does this mean?" expander; and a double click on "Open session" or "Close
session" sends one transaction, checked on the chain's MOR balance."""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget
from pytestqt.qtbot import QtBot

from app.services.remote_chat import RemoteChat, RemoteState
from app.ui.chat_page import ChatPage
from app.ui.formatting import mor
from tests.ui_chat.conftest import clipped, jargon
from tests.ui_remote.conftest import MODEL_NAME, Gui, Providers

pytestmark = pytest.mark.asyncio(loop_scope="module")

NETWORK_LABEL = f"Network · {MODEL_NAME} · 2 providers"
WAIT_S = 60.0


def double_click(qtbot: QtBot, button: QWidget) -> None:
    """Two clicks delivered back to back, before the loop runs any task: a fast double click.
    (QTest's mouseDClick sends no release, so a button would not click at all.)"""
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def fully_shown(label: QLabel) -> bool:
    """A wrapped label is as tall as its text needs at its width (no half lines)."""
    if not label.isVisible() or not label.text():
        return True
    return label.height() >= label.heightForWidth(label.width())


async def test_open_session_dialog_is_readable_and_double_clicks_spend_once(
    qtbot: QtBot, providers: Providers, gui: Gui
) -> None:
    page = ChatPage(gui.ctx)
    qtbot.addWidget(page)
    page.resize(800 - 180, 600 - 60)  # its share of an 800x600 window
    page.show()
    await page.refresh_sources()
    page.select_source(NETWORK_LABEL)
    source = page.current_source()
    assert source is not None and isinstance(source.engine, RemoteChat)
    remote = source.engine
    assert "MOR/hour" in page.model_detail.text() and "quality" in page.model_detail.text()
    assert "wei" not in page.model_detail.text()
    panel = page.remote_panel
    await asyncio.gather(*panel.ping_tasks)
    assert clipped(page) == [] and jargon(page) == []  # offers at 800x600, in plain words

    double_click(qtbot, panel.open_button)
    dialog = panel.dialog
    assert dialog is not None and dialog.isVisible()
    assert [w for w in panel.findChildren(type(dialog)) if w.isVisible()] == [dialog]  # one
    assert dialog.init_task is not None
    await dialog.init_task
    assert dialog.quote_task is not None
    await dialog.quote_task
    q = dialog.quote
    assert q is not None and q.affordable
    cost = dialog.cost_label.text()
    assert cost.startswith(f"The most this costs you: {mor(q.stake, 6)}")
    assert "comes back" in cost and "network fee" in cost
    assert "00:00 UTC" in dialog.returns_label.text()
    assert not dialog.explain_label.isVisible()
    dialog.explain_button.click()
    assert dialog.explain_label.isVisible() and "00:00 UTC" in dialog.explain_label.text()
    await asyncio.sleep(0)  # one loop turn: let the layout settle
    for label in dialog.findChildren(QLabel):
        assert fully_shown(label), f"cut text: {label.text()[:60]!r}"
    everything = " ".join(label.text() for label in dialog.findChildren(QLabel)).lower()
    for word in ("wei", " gas", "rpc", "nonce", "anvil", "bid id"):
        assert word not in everything

    chain = providers.chain
    before = await chain.mor_balance(gui.address)
    double_click(qtbot, dialog.open_button)
    dialog.open_button.click()  # a third click, as an impatient user would
    assert dialog.open_task is not None
    await asyncio.wait_for(dialog.open_task, WAIT_S)
    assert remote.state is RemoteState.OPEN and remote.record is not None
    s = await chain.get_session(remote.record.session_id)
    assert await chain.mor_balance(gui.address) == before - s.stake  # one stake, not two

    bar = panel.session_bar
    assert bar.isVisible() and clipped(page) == [] and jargon(page) == []
    double_click(qtbot, bar.close_button)
    assert bar.close_task is not None
    await asyncio.wait_for(bar.close_task, WAIT_S)
    closed = remote.last_closed
    assert closed is not None
    assert await chain.mor_balance(gui.address) == before - s.stake + closed.refunded
