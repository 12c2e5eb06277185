"""The Chat page against the real devnet and real providers, with real widgets offscreen: the
network model in the picker, its offers with price, rating and reachability, the Open-session
dialog (duration slider → stake, balance, what comes back when), a streamed answer from the
provider, the session timer, and Close with the refund shown and checked on chain."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from app.inference.types import SamplingParams
from app.services.remote_chat import RemoteChat, RemoteState, short_address
from app.storage.chats import ModelSettings
from app.ui.chat.session_bar import closed_text
from app.ui.chat_page import ChatPage
from app.ui.formatting import local_time, mor, mor_per_hour
from tests.ui_remote.conftest import MODEL_NAME, PRICES, Gui, Providers

pytestmark = pytest.mark.asyncio(loop_scope="module")


def next_emission(signal: Any) -> asyncio.Future[Any]:
    """A future resolved by the next emission of a Qt ``signal`` (await it: no polling)."""
    fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def slot(value: Any) -> None:
        if not fut.done():
            fut.set_result(value)
        signal.disconnect(slot)

    signal.connect(slot)
    return fut

WAIT_S = 60.0
NETWORK_LABEL = f"Network · {MODEL_NAME} · 2 providers"


async def test_pick_network_model_open_chat_and_close(
    qtbot: QtBot, providers: Providers, gui: Gui
) -> None:
    # The second provider is down: the offers list must say so.
    down = providers.services[1]
    assert down.server is not None
    await down.server.stop()
    down.server = None

    page = ChatPage(gui.ctx)
    qtbot.addWidget(page)
    page.resize(1000, 800)
    page.show()
    await page.refresh_sources()
    labels = [page.model_picker.itemText(i) for i in range(page.model_picker.count())]
    assert labels == [f"This computer · {MODEL_NAME}", NETWORK_LABEL]
    panel = page.remote_panel
    assert not panel.isVisible()  # a local model is picked

    page.select_source(NETWORK_LABEL)
    source = page.current_source()
    assert source is not None and isinstance(source.engine, RemoteChat)
    remote = source.engine
    assert panel.isVisible() and panel.offers.isVisible() and not panel.session_bar.isVisible()
    rows = [[panel.table.item(r, c).text() for c in range(4)]  # type: ignore[union-attr]
            for r in range(panel.table.rowCount())]
    best = providers.services[0]
    assert [r[0] for r in rows] == [short_address(best.me), short_address(down.me)]
    assert short_address(best.me) == f"{best.me[:6]}…{best.me[-4:]}"
    assert [r[1] for r in rows] == [mor_per_hour(p) for p in PRICES] == [
        "0.036 MOR/hour", "0.072 MOR/hour"]
    # Neither provider has a track record yet: equal quality, so the cheaper one ranks first.
    assert rows[0][2] == rows[1][2] and rows[0][2].endswith(" / 5")
    assert 0 < float(rows[0][2].split(" / ")[0]) <= 5
    await asyncio.gather(*panel.ping_tasks)
    reach = panel.reachability_texts()
    assert re.fullmatch(r"ok · \d+ ms", reach[0]) and reach[1] == "unreachable"

    # Open session: the dialog prices the default 30 minutes, then the slider's 45.
    page.store.save_model_settings(source.model_name, ModelSettings(
        "", SamplingParams(max_tokens=8, temperature=0.0)))
    assert panel.selected_offer() == remote.model.bids[0]
    panel.open_button.click()
    dialog = panel.dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.init_task is not None
    await dialog.init_task
    assert dialog.slider.value() == 30 and dialog.slider.minimum() == 5
    assert dialog.slider.maximum() == 7 * 24 * 60
    assert dialog.quote_task is not None
    await dialog.quote_task
    assert dialog.quote is not None and dialog.quote.duration_s >= 30 * 60
    quoted = next_emission(dialog.quoted)
    dialog.slider.setValue(45)
    assert not dialog.open_button.isEnabled()  # until the new stake is known (debounced)
    q = await asyncio.wait_for(quoted, WAIT_S)
    assert q is dialog.quote and dialog.open_button.isEnabled()
    assert q is not None and q.duration_s >= 45 * 60 and q.affordable
    assert dialog.duration_label.text() == "45 min"
    assert dialog.stake_label.text() == f"Stake: {mor(q.stake, 6)}"
    assert dialog.balance_label.text() == f"Your balance: {mor(q.balance)} — enough."
    assert dialog.returns_label.text().startswith(
        "Closing before the end returns the unused stake at once; the part for today's use is "
        f"held until {local_time(q.next_midnight)} and then returned automatically.")
    chain = providers.chain
    before = await chain.mor_balance(gui.address)

    dialog.open_button.click()
    assert dialog.open_task is not None
    await dialog.open_task
    assert dialog.steps == ["Pricing the session", "Asking the provider for an approval",
                            "Approving and staking MOR", "Session open"]
    assert not dialog.isVisible() and remote.state is RemoteState.OPEN
    rec = remote.record
    assert rec is not None and rec.provider == best.me
    s = await chain.get_session(rec.session_id)
    assert s.is_active and s.user == gui.address and s.ends_at - s.opened_at >= 45 * 60
    assert abs(s.stake - q.stake) * 100 <= q.stake  # priced with the same contract views
    assert await chain.mor_balance(gui.address) == before - s.stake

    # The session bar: who, countdown, stake; the offers make way for it.
    bar = panel.session_bar
    assert bar.isVisible() and not panel.offers.isVisible()
    assert bar.stake_label.text() == f"Stake {mor(s.stake)}"
    shown = bar.timer_label.text()
    assert re.fullmatch(r"00:4[45]:\d\d", shown)
    # (Awaiting signals rather than qtbot.waitUntil: its nested event processing would run other
    # asyncio tasks' steps inside this test's step, which asyncio refuses, stranding them.)
    later = shown
    while later == shown:
        later = await asyncio.wait_for(next_emission(bar.ticked), 5)
    assert later < shown  # counting down, once a second

    # A prompt streams from the provider into the chat.
    streamed: list[str] = []
    page.view.streamed.connect(streamed.append)
    task = page.send("Say hello.")
    assert task is not None
    await task
    assert "".join(streamed).strip()
    roles = [(m.role, m.model) for m in page.messages()]
    assert roles == [("user", source.model_name), ("assistant", source.model_name)]
    assert page.messages()[1].content.strip() and page.status.text() == ""
    assert best.dashboard.tokens_served > 0

    # Close: the session ends on chain and the bar says what came back and what is held.
    bar.close_button.click()
    assert bar.close_task is not None
    await asyncio.wait_for(bar.close_task, WAIT_S)
    assert bar.result_label.text().startswith("Session closed.")
    closed = remote.last_closed
    assert closed is not None and closed.session_id == rec.session_id
    after = await chain.get_session(rec.session_id)
    assert after.closed_at > 0 and not after.is_active and not after.disputed
    assert closed.refunded > 0 and closed.on_hold > 0
    assert bar.result_label.text() == closed_text(closed)
    assert f"{mor(closed.refunded)} came back to your wallet now" in bar.result_label.text()
    assert f"{mor(closed.on_hold)} is held until" in bar.result_label.text()
    assert await chain.mor_balance(gui.address) == before - s.stake + closed.refunded
    assert not bar.close_button.isVisible() and panel.offers.isVisible()

    # Without a session, a message gets a plain explanation instead of an answer.
    task = page.send("Are you there?")
    assert task is not None
    await task
    assert "Open a session with a provider" in page.status.text()


async def test_failover_is_told_in_the_chat_and_the_answer_still_comes(
    qtbot: QtBot, providers: Providers, gui: Gui
) -> None:
    page = ChatPage(gui.ctx)
    qtbot.addWidget(page)
    page.show()
    await page.refresh_sources()
    page.select_source(NETWORK_LABEL)
    source = page.current_source()
    assert source is not None and isinstance(source.engine, RemoteChat)
    remote = source.engine
    page.store.save_model_settings(source.model_name, ModelSettings(
        "", SamplingParams(max_tokens=6, temperature=0.0)))
    await remote.open(remote.model.bids[0].bid.id, 900)
    failing, other = providers.services
    assert remote.record is not None and remote.record.provider == failing.me
    assert page.remote_panel.session_bar.isVisible()
    task = page.send("Hi!")
    assert task is not None
    await task
    assert failing.server is not None
    await failing.server.stop()
    failing.server = None

    task = page.send("Hi again!")
    assert task is not None
    await task

    notice = (f"Provider {short_address(failing.me)} failed; switched to provider "
              f"{short_address(other.me)}.")
    msgs = page.messages()
    assert [m.role for m in msgs] == ["user", "assistant", "user", "system", "assistant"]
    assert msgs[3].content == notice and msgs[4].content.strip()
    assert notice in page.transcript_text() and page.status.text() == notice
    assert remote.record is not None and remote.record.provider == other.me
    bar = page.remote_panel.session_bar
    assert bar.result_label.text() == notice
    assert bar.provider_label.text().startswith(f"Session with {short_address(other.me)}")
    # Only user and assistant turns go to the model, never the notice.
    request = page._request_for(msgs[0].conversation_id, source)
    assert [m.role for m in request.messages] == ["user", "assistant", "user", "assistant"]
    await remote.close()
