"""The Wallet page keeps its numbers true by itself, on the real devnet through the program's own
services: a send moves both balances with no Refresh press (and a double click sends once); MOR
arriving from another account shows within seconds through the block watcher (and only once the
page is visible); an error from a lost connection clears once the node answers again, and a
program started while the node was down connects by itself when it is back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web
from eth_account import Account
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.chain.devnet import Devnet, dev_account, network_file
from app.services.block_watch import WatchPace
from app.ui.status_feed import StatusFeed
from app.ui.wallet_page import WalletPage
from tests.http_server import serving
from tests.ui_live.conftest import devnet_window
from tests.ui_share.conftest import (
    CONSUMER_INDEX,
    Gui,
    GuiFactory,
    HeadlessProvider,
    wait_until,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

MOR = 10**18
OUTSIDER = 3  # another anvil account, outside the program


def _page(qtbot: QtBot, gui: Gui) -> WalletPage:
    page = WalletPage(gui.ctx)
    qtbot.addWidget(page)
    page.resize(900, 700)
    page.show()
    page.refresh_timer.stop()  # only blocks, jobs and the program's own sends move the numbers
    return page


async def _idle(page: WalletPage) -> None:
    """Let the page's reads finish (the test ends; nothing is cut off mid-request)."""
    await wait_until(lambda: not page.host.tasks, 15)


def _transfer(net: Devnet, to: str, amount: int) -> int:
    """MOR sent by an anvil account with no part in the program; returns its block."""
    w3 = net.w3
    h = net.token().functions.transfer(to, amount).transact({"from": dev_account(OUTSIDER).address})
    return int(w3.eth.wait_for_transaction_receipt(h)["blockNumber"])


async def test_a_send_moves_the_balances_without_refresh_and_a_double_click_sends_once(
    qtbot: QtBot, make_gui: GuiFactory, chain_snapshot: Devnet,
) -> None:
    gui = await make_gui(CONSUMER_INDEX)
    chain = await gui.services.connect()
    assert chain is not None
    page = _page(qtbot, gui)
    start = await chain.mor_balance(gui.address)
    await wait_until(lambda: page.mor_wei == start, 15)  # read on show, no button pressed
    nonce = chain_snapshot.w3.eth.get_transaction_count(gui.address)
    friend = Account.create().address

    dlg = page.open_send()
    dlg.asset.setCurrentText("MOR")
    dlg.to.setText(friend)
    dlg.amount.setText("3")
    await dlg.review()
    assert dlg.send_button.isEnabled(), dlg.errors.text()
    # A double click: two clicks before the event loop runs any of the work they start.
    qtbot.mouseClick(dlg.send_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dlg.send_button, Qt.MouseButton.LeftButton)
    first = dlg.send_task
    assert first is not None
    assert dlg.send() is first  # Enter pressed again, a click that got through: the same send
    await wait_until(lambda: page.mor_wei == start - 3 * MOR, 20)
    assert page.mor_label.text() == f"{(start - 3 * MOR) // MOR:,} MOR".replace(",", "")
    assert await chain.mor_balance(friend) == 3 * MOR  # once, not twice
    assert chain_snapshot.w3.eth.get_transaction_count(gui.address) == nonce + 1
    assert len(gui.wallet.history()) == 1
    assert page.refresh_button.isEnabled()  # (never pressed)
    await _idle(page)


async def test_mor_from_outside_shows_within_seconds_and_waits_while_hidden(
    qtbot: QtBot, make_gui: GuiFactory, chain_snapshot: Devnet,
) -> None:
    gui = await make_gui(CONSUMER_INDEX)
    chain = await gui.services.connect()
    assert chain is not None
    page = _page(qtbot, gui)
    start = await chain.mor_balance(gui.address)
    await wait_until(lambda: page.mor_wei == start, 15)

    await asyncio.to_thread(_transfer, chain_snapshot, gui.address, 5 * MOR)
    await wait_until(lambda: page.mor_wei == start + 5 * MOR, 10)  # the watcher polls every 2 s
    outsider = dev_account(OUTSIDER).address

    def listed() -> bool:
        rows = [page.mor_history.topLevelItem(i)
                for i in range(page.mor_history.topLevelItemCount())]
        return any(r.text(1) == "in" and r.toolTip(3) == outsider for r in rows)

    await wait_until(listed, 10)  # and the transfer list, read in the same pass

    # Hidden: the block is seen, the balances are not read; shown: read at once.
    await wait_until(lambda: page.refresh_task is None or page.refresh_task.done(), 10)
    page.hide()
    block = await asyncio.to_thread(_transfer, chain_snapshot, gui.address, 2 * MOR)
    await wait_until(lambda: gui.services.block >= block, 10)
    assert page.mor_wei == start + 5 * MOR
    page.show()
    await wait_until(lambda: page.mor_wei == start + 7 * MOR, 10)
    await _idle(page)


@asynccontextmanager
async def _node_switch(net: Devnet) -> AsyncIterator[tuple[str, asyncio.Event]]:
    """The devnet's node behind a switch: while ``cut`` is set it answers 503, as a node that
    is down. Yields the relay's URL and the switch."""
    cut = asyncio.Event()
    async with aiohttp.ClientSession() as http:

        async def relay(request: web.Request) -> web.Response:
            if cut.is_set():
                return web.Response(status=503, text="node down")
            async with http.post(net.rpc_url, data=await request.read(),
                                 headers={"Content-Type": "application/json"}) as r:
                return web.Response(body=await r.read(), status=r.status,
                                    content_type="application/json")

        app = web.Application()
        app.router.add_post("/", relay)
        async with serving(app) as url:
            yield url + "/", cut


def _through(net: Devnet, url: str) -> None:
    """This test's home reaches the devnet only through ``url``."""
    network_file().write_text(json.dumps(dict(net.network, rpcUrls=[url])), encoding="utf-8")


async def test_a_connection_error_clears_when_the_node_answers_again(
    qtbot: QtBot, make_gui: GuiFactory, chain_snapshot: Devnet,
) -> None:
    async with _node_switch(chain_snapshot) as (url, cut):
        gui = await make_gui(CONSUMER_INDEX)
        _through(chain_snapshot, url)
        chain = await gui.services.connect()
        assert chain is not None
        page = _page(qtbot, gui)
        await wait_until(lambda: page.mor_wei is not None, 15)
        assert not page.errors.isVisible()

        cut.set()
        page.refresh_button.click()
        await wait_until(lambda: page.errors.isVisible(), 20)
        assert page.errors.text() and "Traceback" not in page.errors.text()
        await wait_until(lambda: bool(gui.services.chain_error), 20)  # the watcher too

        cut.clear()  # the node is back: nobody presses anything
        await wait_until(lambda: not page.errors.isVisible(), 15)
        assert gui.services.chain_error == ""
        await _idle(page)
        await gui.services.stop()  # before the relay goes away


async def test_started_offline_connects_by_itself_once_the_node_is_back(
    qtbot: QtBot, make_gui: GuiFactory, chain_snapshot: Devnet,
) -> None:
    async with _node_switch(chain_snapshot) as (url, cut):
        gui = await make_gui(CONSUMER_INDEX)
        _through(chain_snapshot, url)
        cut.set()
        window = devnet_window(qtbot, gui)
        window.show()
        feed = StatusFeed(window)
        assert feed.connect_task is not None
        await feed.connect_task
        assert gui.services.chain is None and gui.services.chain_error
        assert window.block_status.text() == "Not connected"
        page = window.show_page("wallet")
        assert isinstance(page, WalletPage)
        page.refresh_timer.stop()

        feed.reconnect_timer.setInterval(200)  # (15 s in the program)
        cut.clear()  # the node is back: nobody restarts anything
        await wait_until(lambda: gui.services.chain is not None, 15)
        await wait_until(lambda: window.block_status.text().startswith("Block "), 15)
        start = await gui.services.chain.mor_balance(gui.address)  # type: ignore[union-attr]
        await wait_until(lambda: page.mor_wei == start, 15)
        assert not feed.reconnect() and not page.errors.isVisible()
        await _idle(page)
        await gui.services.stop()


async def test_a_session_opened_and_closed_moves_the_balance_with_no_block_watch(
    qtbot: QtBot, make_gui: GuiFactory, headless_provider: HeadlessProvider,
    chain_snapshot: Devnet,
) -> None:
    """The program's own jobs move the numbers even with the block watch asleep: opening a
    session takes the stake, closing it brings back what was not used."""
    gui = await make_gui(CONSUMER_INDEX)
    gui.services.watch_pace = WatchPace(watched_s=3600, hidden_s=3600)  # one read, then asleep
    chain = await gui.services.connect()
    assert chain is not None
    page = _page(qtbot, gui)
    start = await chain.mor_balance(gui.address)
    await wait_until(lambda: page.mor_wei == start, 15)

    consumer = await gui.services.consumer()
    opened = await consumer.open_session(headless_provider.bid_id, 600)
    staked = await chain.mor_balance(gui.address)
    assert staked < start
    await wait_until(lambda: page.mor_wei == staked, 10)

    chain_snapshot.time_travel(60)  # a minute of use before closing
    await consumer.close_session(opened.record.session_id)
    back = await chain.mor_balance(gui.address)
    assert back > staked
    await wait_until(lambda: page.mor_wei == back, 10)
    await _idle(page)
