"""The Share my GPU page with real widgets (offscreen), the real devnet and the real SmolLM2: the
checklist before sharing, the toggle that puts a bid on chain, a real consumer's session showing on
the dashboard, and turning it off (bid deleted, stake offered back and returned)."""

from __future__ import annotations

import asyncio

import pytest
from pytestqt.qtbot import QtBot

from app.chain.devnet import Devnet
from app.inference.types import ChatMessage, ChatRequest, SamplingParams, TokenDelta
from app.services.provider_service import CheckStatus, ProviderState
from app.ui.share_page import SharePage, mor_per_hour
from app.wallet.units import format_amount
from tests.ui_share.conftest import (
    PASSWORD,
    PROVIDER_INDEX,
    GuiFactory,
    HeadlessConsumer,
    wait_until,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

PRICE = 10**13  # wei per second


async def make_page(qtbot: QtBot, gui_ctx: object) -> SharePage:
    page = SharePage(gui_ctx)  # type: ignore[arg-type]
    qtbot.addWidget(page)
    page.resize(900, 900)
    page.show()
    return page


async def test_share_serve_a_session_and_stop(
    qtbot: QtBot, make_gui: GuiFactory, headless_consumer: HeadlessConsumer,
    chain_snapshot: Devnet,
) -> None:
    gui = await make_gui(PROVIDER_INDEX)
    page = await make_page(qtbot, gui.ctx)
    assert page.refresh_task is not None
    await page.refresh_task

    # The checklist explains each step before anything is sent.
    assert not page.blocker.isVisible()
    assert page.check_status("wallet") is CheckStatus.OK
    assert page.check_status("gas") is CheckStatus.OK
    assert page.check_status("mor") is CheckStatus.OK
    assert page.check_status("model") is CheckStatus.OK
    assert page.check_status("bench") is CheckStatus.OK
    assert page.check_status("reach") is CheckStatus.WARN  # loopback only, with advice
    rows = {page.checklist.topLevelItem(i).text(1): page.checklist.topLevelItem(i).text(2)
            for i in range(page.checklist.topLevelItemCount())}
    assert "forward the port" in rows["Reachable by other people"]
    assert "tokens/s" in rows["Engine benchmarked"]
    assert "MOR" in rows["MOR for the provider stake and offer fee"]
    # Price prefilled with the suggestion, shown per hour too.
    provider = page.provider
    assert provider is not None
    suggested = await provider.suggested_price()
    assert page.price.text() == str(suggested)
    assert page.price_hint.text() == f"≈ {mor_per_hour(suggested)}"
    assert page.toggle.isEnabled() and page.checklist_status.text() == "Ready to share."

    # Share my GPU → per-step progress, then the bid is on chain.
    page.price.setText(str(PRICE))
    assert page.price_hint.text() == "≈ 0.036 MOR/hour"
    page.toggle.click()
    assert page.toggle_task is not None
    # Issue 14: the costs are confirmed before anything is sent.
    await wait_until(lambda: page.cost_dialog is not None and page.cost_dialog.isVisible())
    page.cost_dialog.confirm_button.click()  # type: ignore[union-attr]
    await page.toggle_task
    assert not page.errors.isVisible(), page.errors.text()
    assert page.toggle.isChecked() and page.toggle.text() == "Stop sharing"
    assert "Posting the bid" in page.steps and "Registering as a provider" in page.steps
    bid_id = provider.dashboard.bid_id
    chain = headless_consumer.chain
    bid = await chain.get_bid(bid_id)
    assert bid.is_active and bid.price_per_second == PRICE and bid.provider == gui.address
    assert page.state_label.text() == "Waiting for users"
    assert page.bid_label.text() == bid_id
    assert (await chain.get_provider(gui.address)).endpoint == page.endpoint_label.text()

    # Someone else opens a session, chats and closes; the dashboard follows.
    consumer = headless_consumer.service
    [offer] = await consumer.best_bids("SmolLM2-135M-Instruct")
    assert offer.bid.id == bid_id
    opened = await consumer.open_session(bid_id, 600)
    req = ChatRequest((ChatMessage("user", "Say hello."),),
                      SamplingParams(max_tokens=8, temperature=0.0))
    text = "".join([ev.text async for ev in opened.engine.chat_stream(req)
                    if isinstance(ev, TokenDelta)])
    assert text.strip()
    await wait_until(lambda: page.sessions_label.text().startswith("1 "))
    assert page.state_label.text() == "Serving 1 session"
    assert provider.dashboard.tokens_served > 0
    assert page.tokens_label.text().startswith(f"{provider.dashboard.tokens_served:,} in 1 ")
    chain_snapshot.time_travel(120)  # two minutes of service to be paid for
    await consumer.close_session(opened.record.session_id)
    await wait_until(lambda: page.state_label.text() == "Waiting for users")
    assert page.sessions_label.text() == "1 (0 active now)"

    # Earnings: the provider's receipt closed the session, so what it served was paid out.
    earnings_task = page.refresh_earnings()
    assert earnings_task is not None
    await earnings_task
    session = await chain.get_session(opened.record.session_id)
    assert session.provider_withdrawn_amount == (session.closed_at - session.opened_at) * PRICE
    assert session.provider_withdrawn_amount >= 120 * PRICE
    assert page.earned_label.text() == (
        f"{format_amount(session.provider_withdrawn_amount, 18, 6)} MOR"
    )
    page.auto_claim.setChecked(False)
    assert provider.auto_claim is False
    page.auto_claim.setChecked(True)
    assert provider.auto_claim is True

    # Turning it off deletes the bid, then offers the provider stake back.
    info = await chain.get_provider(gui.address)
    stake = info.stake
    assert stake > 0 and info.limit_period_earned == session.provider_withdrawn_amount
    refund = stake - info.limit_period_earned  # earned this year stays staked (spec §3.12)
    page.toggle.click()
    await page.toggle_task
    assert not page.errors.isVisible(), page.errors.text()
    assert not page.toggle.isChecked() and page.toggle.text() == "Share my GPU"
    assert not await chain.is_bid_active(bid_id)
    assert provider.dashboard.state is ProviderState.OFF and page.state_label.text() == "Off"
    offer = page.offboard_label.text()
    assert page.offboard.isVisible() and f"{format_amount(stake)} MOR staked" in offer
    assert f"get {format_amount(refund)} MOR back now" in offer
    assert f"keeps {format_amount(info.limit_period_earned)} MOR" in offer
    before = await chain.mor_balance(gui.address)
    await page.deregister()
    assert not page.errors.isVisible(), page.errors.text()
    assert await chain.mor_balance(gui.address) == before + refund
    assert f"{format_amount(refund)} MOR came back" in page.offboard_label.text()
    assert not (await chain.get_provider(gui.address)).is_active
    assert "came back to your wallet" in page.offboard_label.text()


async def test_failed_start_turns_the_toggle_back_off_with_a_plain_error(
    qtbot: QtBot, make_gui: GuiFactory, headless_consumer: HeadlessConsumer
) -> None:
    gui = await make_gui(PROVIDER_INDEX)
    page = await make_page(qtbot, gui.ctx)
    await page.refresh_task  # type: ignore[misc]
    lo, hi = await headless_consumer.chain.price_range()
    page.price.setText(str(hi + 1))  # above what the contract allows
    page.toggle.click()
    await page.toggle_task  # type: ignore[misc]
    assert not page.toggle.isChecked() and page.toggle.text() == "Share my GPU"
    assert page.errors.isVisible()
    assert page.errors.text() == (
        f"The price must be between {lo} and {hi} wei per second on this network."
    )
    assert page.state_label.text().startswith("Error: The price must be between")
    assert await headless_consumer.chain.provider_active_bid_ids(gui.address) == []
    # Not a number: refused before anything is sent.
    page.price.setText("ten")
    page.toggle.click()
    await page.toggle_task  # type: ignore[misc]
    assert not page.toggle.isChecked()
    assert "whole number of wei" in page.errors.text()


async def test_locked_wallet_points_to_the_wallet_page(
    qtbot: QtBot, make_gui: GuiFactory
) -> None:
    gui = await make_gui(PROVIDER_INDEX, unlocked=False)
    page = await make_page(qtbot, gui.ctx)
    opened: list[str] = []
    page.navigate.connect(opened.append)
    await page.refresh_task  # type: ignore[misc]
    assert page.blocker.isVisible() and "wallet is locked" in page.blocker_label.text()
    assert not page.toggle.isEnabled()
    page.blocker_button.click()
    assert opened == ["wallet"]
    # Unlocking (even from a worker thread) brings the checklist.
    await asyncio.to_thread(gui.wallet.unlock, PASSWORD)
    await wait_until(lambda: page.check_status("gas") is CheckStatus.OK)
    assert not page.blocker.isVisible() and page.toggle.isEnabled()


async def test_no_chain_points_to_settings(qtbot: QtBot, make_gui: GuiFactory) -> None:
    gui = await make_gui(PROVIDER_INDEX, with_devnet=False)
    page = await make_page(qtbot, gui.ctx)
    await page.refresh_task  # type: ignore[misc]
    assert page.blocker.isVisible()
    assert "Not connected to the network" in page.blocker_label.text()
    assert "devnet is not running" in page.blocker_label.text()
    assert page.blocker_button.text() == "Open Settings" and not page.toggle.isEnabled()
