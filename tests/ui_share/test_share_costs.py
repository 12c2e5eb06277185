"""Issue 14 on the Share page (real widgets offscreen, the devnet, the real SmolLM2): switching
Share on first shows what it costs, with the exact amounts read from the chain, and nothing is
sent when the user says no; the price is typed in MOR per hour; the stake chooser says what the
stake lets the provider earn, and until when."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from app.chain.devnet import Devnet
from app.market.economics import PROVIDER_REWARD_LIMITER_PERIOD
from app.ui.share import SharePage
from app.ui.share.texts import date_text
from app.wallet.units import format_amount
from tests.ui_share.conftest import PROVIDER_INDEX, GuiFactory, HeadlessConsumer, wait_until

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def ready_page(qtbot: QtBot, gui_ctx: object) -> SharePage:
    page = SharePage(gui_ctx)  # type: ignore[arg-type]
    qtbot.addWidget(page)
    page.resize(900, 900)
    page.show()
    assert page.refresh_task is not None
    await page.refresh_task
    assert page.toggle.isEnabled(), page.errors.text()
    return page


async def test_cost_confirmation_shows_the_chains_amounts_and_cancel_sends_nothing(
    qtbot: QtBot, make_gui: GuiFactory, headless_consumer: HeadlessConsumer,
    chain_snapshot: Devnet,
) -> None:
    gui = await make_gui(PROVIDER_INDEX)
    page = await ready_page(qtbot, gui.ctx)
    chain = headless_consumer.chain
    params = await chain.market_params()
    nonce = await chain.w3.eth.get_transaction_count(gui.address)
    mor_before = await chain.mor_balance(gui.address)

    # The price in MOR per hour: 1.8 MOR/hour is 5e14 wei per second in the bid.
    page.price_hour.clear()
    qtbot.keyClicks(page.price_hour, "1.8")
    assert page.price.text() == str(5 * 10**14)
    assert page.price_hint.text() == "≈ 1.8 MOR/hour"
    # The stake chooser: what the stake lets us earn, until when (a new provider's period
    # starts at registration).
    assert page.stake.text() == format_amount(params.provider_min_stake)
    page.stake.setText("0.5")
    now = await chain.latest_timestamp()
    hint = page.offer.stake_hint.text()
    assert hint.startswith("With a stake of 0.5 MOR you can earn at most 0.5 MOR until ")
    until = hint.split(" until ")[1][:10]
    assert until in (date_text(now + PROVIDER_REWARD_LIMITER_PERIOD),
                     date_text(now + PROVIDER_REWARD_LIMITER_PERIOD + 60))
    assert "hours of sessions" in hint

    page.toggle.click()
    await wait_until(lambda: page.cost_dialog is not None and page.cost_dialog.isVisible())
    dialog = page.cost_dialog
    assert dialog is not None
    lines = dialog.lines
    assert lines.bid_fee == await chain.bid_fee() == params.bid_fee
    assert lines.provider_stake == 5 * 10**17  # the chosen stake, none staked yet
    assert lines.model_stake == await chain.model_min_stake()
    assert lines.total == lines.bid_fee + lines.provider_stake + lines.model_stake
    text = dialog.text
    assert f"Offer fee: {format_amount(lines.bid_fee)} MOR, paid and gone" in text
    assert f"Provider stake: {format_amount(lines.provider_stake)} MOR, locked" in text
    assert "comes back when you stop and deregister" in text
    assert f"Model stake: {format_amount(lines.model_stake)} MOR, locked" in text
    assert f"Total leaving your wallet now: {format_amount(lines.total)} MOR" in text
    assert "With a stake of 0.5 MOR you can earn at most 0.5 MOR until" in text

    # No: nothing is sent, the switch is off again.
    dialog.reject()
    await page.toggle_task  # type: ignore[misc]
    assert not page.errors.isVisible(), page.errors.text()
    assert not page.toggle.isChecked() and page.toggle.text() == "Share my GPU"
    assert "✗ Cancelled: nothing was sent" in [page.progress.item(i).text()
                                               for i in range(page.progress.count())]
    assert await chain.w3.eth.get_transaction_count(gui.address) == nonce
    assert await chain.mor_balance(gui.address) == mor_before
    assert page.provider is not None and page.provider.server is None

    # Yes: exactly the confirmed amount leaves the wallet, and the bid carries the price.
    page.toggle.click()
    await wait_until(lambda: page.cost_dialog is not None and page.cost_dialog.isVisible())
    page.cost_dialog.confirm_button.click()  # type: ignore[union-attr]
    await page.toggle_task  # type: ignore[misc]
    assert not page.errors.isVisible(), page.errors.text()
    assert page.toggle.isChecked()
    assert await chain.mor_balance(gui.address) == mor_before - lines.total
    info = await chain.get_provider(gui.address)
    assert info.stake == 5 * 10**17
    bid = await chain.get_bid(page.provider.dashboard.bid_id)
    assert bid.price_per_second == 5 * 10**14

    # The dashboard shows the cap from the chain.
    task = page.refresh_earnings()
    assert task is not None
    await task
    assert page.dashboard.period_label.text() == (
        f"0 MOR of at most 0.5 MOR until {date_text(info.limit_period_end)}")
    assert page.dashboard.held_label.text() == "0 MOR"
    page.toggle.click()
    await page.toggle_task  # type: ignore[misc]
    assert "offer fee is not refunded" in page.offboard_label.text()


async def test_a_stake_below_the_minimum_is_refused_before_anything(
    qtbot: QtBot, make_gui: GuiFactory, headless_consumer: HeadlessConsumer,
    chain_snapshot: Devnet,
) -> None:
    gui = await make_gui(PROVIDER_INDEX)
    page = await ready_page(qtbot, gui.ctx)
    page.stake.setText("0.01")
    assert page.offer.stake_hint.text().startswith("At least ")
    page.toggle.click()
    await page.toggle_task  # type: ignore[misc]
    assert page.errors.isVisible()
    assert "The provider stake must be at least" in page.errors.text()
    assert page.cost_dialog is None and not page.toggle.isChecked()
    assert not await headless_consumer.chain.is_provider_active(gui.address)


async def test_publishing_an_address_asks_before_listening_beyond_this_computer(
    qtbot: QtBot, make_gui: GuiFactory, headless_consumer: HeadlessConsumer,
    chain_snapshot: Devnet,
) -> None:
    gui = await make_gui(PROVIDER_INDEX)
    page = await ready_page(qtbot, gui.ctx)
    chain = headless_consumer.chain
    assert "this computer only" in page.reach.addresses.text()
    page.reach.public_endpoint.setText("192.168.1.20:3333")  # a LAN address: devnet only
    nonce = await chain.w3.eth.get_transaction_count(gui.address)

    page.toggle.click()
    await wait_until(lambda: page.listen_dialog is not None and page.listen_dialog.isVisible())
    assert "listens on 0.0.0.0" in page.listen_dialog.label.text()  # type: ignore[union-attr]
    page.listen_dialog.reject()  # type: ignore[union-attr]
    await page.toggle_task  # type: ignore[misc]
    assert not page.toggle.isChecked() and not page.errors.isVisible()
    assert await chain.w3.eth.get_transaction_count(gui.address) == nonce
    assert page.provider is not None and page.provider.server is None

    page.toggle.click()
    await wait_until(lambda: page.listen_dialog is not None and page.listen_dialog.isVisible())
    page.listen_dialog.allow_button.click()  # type: ignore[union-attr]
    await wait_until(lambda: page.cost_dialog is not None and page.cost_dialog.isVisible())
    page.cost_dialog.confirm_button.click()  # type: ignore[union-attr]
    await page.toggle_task  # type: ignore[misc]
    assert not page.errors.isVisible(), page.errors.text()
    assert page.provider.server is not None
    assert page.provider.server.config.host == "0.0.0.0"
    assert (await chain.get_provider(gui.address)).endpoint == "192.168.1.20:3333"
    assert page.endpoint_label.text() == "192.168.1.20:3333"
    page.toggle.click()
    await page.toggle_task  # type: ignore[misc]
