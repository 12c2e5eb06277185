"""The Activity page with real widgets (offscreen), the program's own services on the devnet and
a real provider serving SmolLM2: every money-moving job with its state and transactions, Retry on
a failed job, the held stake card with "Withdraw now", and the sessions list."""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel, QPushButton
from pytestqt.qtbot import QtBot

from app.chain.devnet import Devnet
from app.chain.networks import BASE
from app.services import app_services
from app.storage.jobs import JobState
from app.ui.activity_page import ActivityPage, _tx_cell
from app.ui.words import short_id
from app.wallet.units import format_amount
from tests.ui_share.conftest import (
    CONSUMER_INDEX,
    PASSWORD,
    GuiFactory,
    HeadlessProvider,
    wait_until,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

BOGUS_SESSION = "0x" + "ab" * 32


def cell(page: ActivityPage, key: str, col: int) -> str:
    row = page.job_row(key)
    assert row >= 0, f"job {key} is not listed"
    item = page.jobs_table.item(row, col)
    return item.text() if item is not None else ""


def tx_text(page: ActivityPage, key: str) -> str:
    w = page.jobs_table.cellWidget(page.job_row(key), 5)
    assert w is not None
    label = w.findChild(QLabel, "txLinks")
    assert label is not None
    return label.text()


async def test_jobs_retry_held_stake_and_sessions(
    qtbot: QtBot, make_gui: GuiFactory, headless_provider: HeadlessProvider,
    chain_snapshot: Devnet, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Only the "Withdraw now" button may collect the held stake in this test: no automatic
    # re-check when chain time jumps.
    monkeypatch.setattr(app_services, "TIME_JUMP_S", 10.0**9)
    gui = await make_gui(CONSUMER_INDEX)
    page = ActivityPage(gui.ctx)
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    await page.refresh_task  # type: ignore[misc]
    assert not page.errors.isVisible(), page.errors.text()
    assert page.jobs == [] and page.held == (0, 0)
    assert not page.withdraw_button.isEnabled()

    chain = headless_provider.chain
    start_balance = await chain.mor_balance(gui.address)
    consumer = await gui.services.consumer()
    opened = await consumer.open_session(headless_provider.bid_id, 600)
    sid = opened.record.session_id
    await wait_until(lambda: page.job_row(f"close:{sid}") >= 0)
    [open_job] = [j for j, _ in page.jobs if j.kind == "consumer.open"]
    assert cell(page, open_job.key, 1) == "Done"
    assert cell(page, open_job.key, 3) == "1"
    assert len(open_job.tx_hashes) == 2  # approve, then openSession
    # No explorer: the hashes, shortened for reading (issue 16), whole in the tooltip and copy.
    assert tx_text(page, open_job.key) == "\n".join(short_id(h) for h in open_job.tx_hashes)
    copy = page.jobs_table.cellWidget(page.job_row(open_job.key), 5).findChild(
        QPushButton, "copyTx"
    )
    copy.click()
    assert QGuiApplication.clipboard().text() == "\n".join(open_job.tx_hashes)
    assert cell(page, f"close:{sid}", 1) == "Waiting"
    assert cell(page, f"close:{sid}", 2).startswith("next try")  # at the session's end

    # Close early: part of the stake comes back now, the rest is held until UTC midnight.
    chain_snapshot.time_travel(120)
    closed = await consumer.close_session(sid)
    assert closed.on_hold > 0
    await page.refresh()
    assert cell(page, f"close:{sid}", 1) == "Done"
    assert tx_text(page, f"close:{sid}").splitlines()[-1] == short_id(closed.close_tx)
    assert page.held == (0, closed.on_hold)
    assert page.still_held_label.text() == f"{format_amount(closed.on_hold, 18, 6)} MOR"
    assert not page.withdraw_button.isEnabled()
    [srow] = [i for i, r in enumerate(page.sessions) if r.session_id == sid]
    texts = [page.sessions_table.item(srow, c).text() for c in range(8)]
    assert texts[0] == "You used" and texts[7] == "closed"
    assert texts[2] == f"{format_amount(closed.stake, 18, 6)} MOR"
    assert texts[5] == f"{format_amount(closed.refunded, 18, 6)} MOR"
    assert texts[6].startswith(f"{format_amount(closed.on_hold, 18, 6)} MOR until ")

    # A job that fails for good shows its error and a Retry button that re-queues it.
    key = f"close:{BOGUS_SESSION}"
    consumer.runner.schedule(key, "consumer.close",
                             {"session_id": BOGUS_SESSION, "provider_key": ""},
                             title="Close session")
    await wait_until(lambda: page.retry_button(key) is not None)
    assert cell(page, key, 1) == "Failed" and cell(page, key, 3) == "1"
    assert cell(page, key, 4) == "This session does not exist on this network."
    page.retry_button(key).click()  # type: ignore[union-attr]
    assert consumer.runner.store.get(key).state is JobState.PENDING  # type: ignore[union-attr]
    assert cell(page, key, 1) == "Waiting" and page.retry_button(key) is None
    await wait_until(lambda: page.retry_button(key) is not None and cell(page, key, 3) == "2")
    assert cell(page, key, 1) == "Failed"

    # After the next UTC midnight the held stake is withdrawable; "Withdraw now" collects it.
    now = await chain.latest_timestamp()
    chain_snapshot.time_travel(closed.on_hold_until - now + 1)
    await page.refresh()
    assert page.held == (closed.on_hold, 0) and page.withdraw_button.isEnabled()
    page.withdraw_button.click()
    assert page.withdraw_task is not None
    await page.withdraw_task
    assert not page.errors.isVisible(), page.errors.text()
    assert page.held == (0, 0) and not page.withdraw_button.isEnabled()
    assert await chain.mor_balance(gui.address) == start_balance  # every wei came back
    withdraws = [j for j, _ in page.jobs if j.kind == "consumer.withdraw"
                 and j.state is JobState.DONE and int(j.result.get("withdrawn", 0))]
    assert [int(j.result["withdrawn"]) for j in withdraws] == [closed.on_hold]
    assert tx_text(page, withdraws[0].key).splitlines()[-1] == short_id(withdraws[0].result["tx"])


async def test_locked_wallet_says_so_then_unlocking_loads_the_tasks(
    qtbot: QtBot, make_gui: GuiFactory
) -> None:
    gui = await make_gui(CONSUMER_INDEX, unlocked=False)
    page = ActivityPage(gui.ctx)
    qtbot.addWidget(page)
    await page.refresh_task  # type: ignore[misc]
    assert page.notice.isVisibleTo(page) and "wallet is locked" in page.notice.text()
    assert page.held is None and page.withdrawable_label.text() == "—"
    await asyncio.to_thread(gui.wallet.unlock, PASSWORD)  # as the Wallet page does
    await wait_until(lambda: page.held == (0, 0))
    assert not page.notice.isVisibleTo(page)
    assert page.withdrawable_label.text() == "0 MOR" and not page.withdraw_button.isEnabled()


async def test_transactions_link_to_the_explorer_when_the_network_has_one(qtbot: QtBot) -> None:
    tx = "0x" + "12" * 32
    cell_widget = _tx_cell((tx,), BASE)
    qtbot.addWidget(cell_widget)
    label = cell_widget.findChild(QLabel, "txLinks")
    assert label is not None
    assert f'href="https://base.blockscout.com/tx/{tx}"' in label.text()
    assert label.openExternalLinks()
    cell_widget.findChild(QPushButton, "copyTx").click()
    assert QGuiApplication.clipboard().text() == tx
