"""Share my GPU shows what is true, with real widgets, the real devnet and the real SmolLM2: a
double click on the switch goes online once (one bid) and stops once; once stopped, no step says
"Online: waiting for users", uptime stops counting, the state says "Off", the "Stay registered"
button goes with the registration, and the tray says nothing is served. Quitting while the costs
are on screen freezes nothing and sends nothing."""

from __future__ import annotations

import asyncio
import time

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.chain.devnet import Devnet
from app.services.provider_service import ProviderState
from app.ui.app_state import shutdown_hooks
from app.ui.share_page import SharePage
from app.ui.status_feed import StatusFeed
from app.ui.tray import still_running_text
from tests.qt_async import cancel_ui_ops
from tests.ui_live.conftest import devnet_window
from tests.ui_share.conftest import PROVIDER_INDEX, GuiFactory, HeadlessConsumer, wait_until

pytestmark = pytest.mark.asyncio(loop_scope="module")

PRICE = 10**13  # wei per second


async def _ready_page(qtbot: QtBot, gui_ctx: object) -> SharePage:
    page = SharePage(gui_ctx)  # type: ignore[arg-type]
    qtbot.addWidget(page)
    page.resize(900, 900)
    page.show()
    assert page.refresh_task is not None
    await page.refresh_task
    page.price.setText(str(PRICE))
    assert page.toggle.isEnabled(), page.checklist_status.text()
    return page


def _double_click(qtbot: QtBot, button: object) -> None:
    """Two clicks before the event loop runs any of the work they start."""
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # type: ignore[arg-type]
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # type: ignore[arg-type]


def _steps(page: SharePage) -> list[str]:
    return [page.progress.item(i).text() for i in range(page.progress.count())]


async def test_stopping_leaves_nothing_that_says_online(
    qtbot: QtBot, make_gui: GuiFactory, headless_consumer: HeadlessConsumer,
) -> None:
    gui = await make_gui(PROVIDER_INDEX)
    page = await _ready_page(qtbot, gui.ctx)
    chain = headless_consumer.chain
    assert "Nothing is shared" in still_running_text(gui.ctx)

    _double_click(qtbot, page.toggle)
    going = page.toggle_task
    assert going is not None and not page.toggle.isEnabled()
    await wait_until(lambda: page.cost_dialog is not None and page.cost_dialog.isVisible())
    page.cost_dialog.confirm_button.click()  # type: ignore[union-attr]
    await going
    assert page.toggle_task is going  # the second click started nothing
    assert not page.errors.isVisible(), page.errors.text()
    assert page.toggle.isChecked() and page.state_label.text() == "Waiting for users"
    assert len(await chain.provider_active_bid_ids(gui.address)) == 1  # one bid, not two
    assert _steps(page)[-1] == "… Online: waiting for users"
    assert page.uptime_timer.isActive()
    assert "shares your GPU" in still_running_text(gui.ctx)

    _double_click(qtbot, page.toggle)
    stopping = page.toggle_task
    assert stopping is not None and stopping is not going
    await stopping
    assert page.toggle_task is stopping
    assert not page.errors.isVisible(), page.errors.text()
    provider = page.provider
    assert provider is not None and provider.dashboard.state is ProviderState.OFF
    assert not page.toggle.isChecked() and page.toggle.text() == "Share my GPU"
    assert page.state_label.text() == "Off"
    assert await chain.provider_active_bid_ids(gui.address) == []
    # No step says online any more; uptime stopped counting.
    assert not page.progress.isVisible() and not any("Online" in s for s in _steps(page))
    assert not page.uptime_timer.isActive()
    frozen = page.uptime_label.text()
    later = time.time() + 1.2
    await wait_until(lambda: time.time() > later, 5)  # more than a second of wall time passes
    page.update_dashboard()
    page._tick_uptime()
    assert page.uptime_label.text() == frozen
    assert "Nothing is shared" in still_running_text(gui.ctx)
    # Still registered: both choices are offered; deregistering (double click) takes them away.
    assert page.offboard.isVisible()
    assert page.keep_button.isVisible() and page.deregister_button.isVisible()
    _double_click(qtbot, page.deregister_button)
    leaving = page.deregister_task
    assert leaving is not None and page.deregister() is leaving
    await leaving
    assert not page.errors.isVisible(), page.errors.text()
    assert not (await chain.get_provider(gui.address)).is_active
    assert "came back to your wallet" in page.offboard_label.text()
    assert not page.keep_button.isVisible() and not page.deregister_button.isVisible()


async def test_quitting_while_the_costs_are_shown_freezes_nothing_and_sends_nothing(
    qtbot: QtBot, make_gui: GuiFactory, headless_consumer: HeadlessConsumer,
    chain_snapshot: Devnet,
) -> None:
    gui = await make_gui(PROVIDER_INDEX)
    window = devnet_window(qtbot, gui)
    window.show()
    feed = StatusFeed(window)  # registers the services' stop as a shutdown hook, as at launch
    assert feed.connect_task is not None
    await feed.connect_task
    page = window.show_page("share")
    assert isinstance(page, SharePage)
    assert page.refresh_task is not None
    await page.refresh_task
    page.price.setText(str(PRICE))
    nonce = chain_snapshot.w3.eth.get_transaction_count(gui.address)
    page.toggle.click()
    going = page.toggle_task
    assert going is not None
    await wait_until(lambda: page.cost_dialog is not None and page.cost_dialog.isVisible())

    # Quit (tray menu, Ctrl+Q): the window goes, the shutdown hooks run, then the rest ends.
    quit_seen: list[bool] = []
    window.quit_requested.connect(lambda: quit_seen.append(True))
    window.request_quit()
    assert quit_seen and not window.isVisible()
    for hook in shutdown_hooks(gui.ctx):
        await asyncio.wait_for(hook(), 30)
    assert going.done()  # ended before the services stopped, not left waiting on the dialog
    await cancel_ui_ops()
    assert await headless_consumer.chain.provider_active_bid_ids(gui.address) == []
    assert chain_snapshot.w3.eth.get_transaction_count(gui.address) == nonce  # nothing sent
    assert not page.toggle.isChecked()
