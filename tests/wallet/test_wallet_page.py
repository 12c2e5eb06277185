"""The Wallet page on a real devnet (anvil + the project's MorpheusToken), with real widgets:
balances, sending MOR, bad input that sends nothing, ETH short for gas, unlock and the seed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from eth_account import Account
from PySide6.QtCore import QUrl
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from app.chain.devnet import Devnet
from app.paths import AppPaths
from app.services.context import AppContext
from app.services.wallet_chain import wallet_chain_at
from app.services.wallet_service import WalletService
from app.ui.wallet_page import WalletPage
from app.wallet.mnemonic import generate_mnemonic
from tests.wallet.secrets_seen import remember

PW = "Harbor-Cinnamon-Glacier-64"
remember(PW)
ETH = 10**18
MOR = 10**18
EXPLORER = "https://explorer.example"

Make = Callable[..., WalletService]


def _fund(net: Devnet, to: str, eth: int, mor: int) -> None:
    w3 = net.w3
    funder = net.accounts[1]
    if eth:
        w3.eth.wait_for_transaction_receipt(
            w3.eth.send_transaction({"from": funder, "to": to, "value": eth})
        )
    if mor:
        h = net.token().functions.transfer(to, mor).transact({"from": funder})
        w3.eth.wait_for_transaction_receipt(h)


def _mor(net: Devnet, addr: str) -> int:
    return int(net.token().functions.balanceOf(addr).call())


@pytest.fixture
async def funded(chain: Devnet, make_service: Make) -> AsyncIterator[WalletService]:
    phrase = generate_mnemonic(12)
    remember(phrase)
    adapter = await wallet_chain_at(chain.rpc_url, chain.network["morToken"], explorer=EXPLORER)
    svc = make_service(chain=adapter)
    svc.create_from_mnemonic(phrase, PW)
    remember(Account.from_mnemonic(phrase).key.hex().removeprefix("0x"))
    yield svc
    await adapter.close()  # its HTTP session belongs to this test's event loop


def _page(qtbot: QtBot, svc: WalletService, paths: AppPaths) -> WalletPage:
    page = WalletPage(AppContext(paths=paths, wallet=svc))
    qtbot.addWidget(page)
    page.resize(900, 700)
    page.show()
    return page


async def _settled(page: WalletPage) -> WalletPage:
    """Let the page's start-up work (account balances) finish before the test acts."""
    for task in list(page.host.tasks):
        await task
    return page


async def test_send_mor_and_see_both_balances_change(
    qtbot: QtBot, chain: Devnet, funded: WalletService, wallet_paths: AppPaths
) -> None:
    me = str(funded.address)
    _fund(chain, me, 2 * ETH, 100 * MOR)
    friend = Account.create().address
    page = await _settled(_page(qtbot, funded, wallet_paths))
    assert page.stack.currentWidget() is page.main_view
    assert page.address_label.text() == me
    assert page.qr_label.pixmap() is not None and not page.qr_label.pixmap().isNull()
    page.copy_address_button.click()
    assert QGuiApplication.clipboard().text() == me
    await page.refresh()
    assert page.balances_text() == ("100 MOR", "2 ETH")
    assert page.accounts_task is not None
    await page.accounts_task  # the account picker shows each account's balance
    assert page.account_picker.count() == 10
    assert page.account_picker.itemText(0).endswith("· 100 MOR")
    assert page.account_picker.itemText(1).endswith("· 0 MOR")

    dlg = page.open_send()
    dlg.asset.setCurrentText("MOR")
    dlg.to.setText(friend)
    dlg.amount.setText("12.5")
    await dlg.review()
    assert not dlg.errors.isVisible(), dlg.errors.text()
    assert "Network fee: up to 0.0" in dlg.summary.text()
    assert "MOR after: 87.5 MOR" in dlg.summary.text()
    assert dlg.send_button.isEnabled() and not dlg.warning.isVisible()
    await dlg.send()
    assert dlg.record is not None and dlg.record.status == "pending"

    assert _mor(chain, friend) == 12 * MOR + MOR // 2
    assert _mor(chain, me) == 87 * MOR + MOR // 2
    await page.refresh()
    mor_text, _eth = page.balances_text()
    assert mor_text == "87.5 MOR"
    assert page.eth_wei is not None and 2 * ETH - dlg.record.max_fee <= page.eth_wei < 2 * ETH
    row = page.history.topLevelItem(0)
    assert row.text(0) == "confirmed" and row.text(1) == "MOR"
    # the recipient shortened for reading, whole in the tooltip and on the clipboard
    assert row.text(3) == f"{friend[:6]}…{friend[-4:]}" and row.toolTip(3) == friend
    actions = {a.text(): a for a in page.history.menu_for(row).actions()}
    actions["Copy address"].trigger()
    assert QGuiApplication.clipboard().text() == friend
    actions["Copy transaction id"].trigger()
    assert QGuiApplication.clipboard().text() == dlg.record.tx_hash
    opened: list[QUrl] = []
    page.open_url = lambda url: opened.append(url) or True
    page.history.itemActivated.emit(row, 0)
    assert opened and opened[0].toString() == f"{EXPLORER}/tx/{dlg.record.tx_hash}"


async def test_bad_input_sends_nothing(
    qtbot: QtBot, chain: Devnet, funded: WalletService, wallet_paths: AppPaths
) -> None:
    me = str(funded.address)
    _fund(chain, me, ETH, 10 * MOR)
    friend = Account.create().address
    page = await _settled(_page(qtbot, funded, wallet_paths))
    dlg = page.open_send()
    i = next(k for k in range(2, 42) if friend[k].isalpha())
    cases = [
        (friend[:i] + friend[i].swapcase() + friend[i + 1 :], "5", "checksum"),
        ("0x1234", "5", "not an Ethereum address"),
        (friend, "10.5", "0.5 MOR missing"),
        (friend, "1.0000000000000000001", "18 decimal places"),
        (friend, "abc", "not an amount"),
        (friend, "0", "greater than zero"),
    ]
    for to, amount, needle in cases:
        dlg.to.setText(to)
        dlg.amount.setText(amount)
        await dlg.review()
        assert dlg.errors.isVisible() and needle in dlg.errors.text(), (to, amount)
        assert not dlg.send_button.isEnabled()
    assert chain.w3.eth.get_transaction_count(me) == 0
    assert _mor(chain, me) == 10 * MOR and funded.history() == []


async def test_eth_short_for_gas_shows_exact_missing_amount(
    qtbot: QtBot, chain: Devnet, funded: WalletService, wallet_paths: AppPaths
) -> None:
    me = str(funded.address)
    _fund(chain, me, 0, 5 * MOR)
    page = await _settled(_page(qtbot, funded, wallet_paths))
    dlg = page.open_send()
    dlg.asset.setCurrentText("MOR")
    dlg.to.setText(Account.create().address)
    dlg.amount.setText("1")
    await dlg.review()
    p = dlg.preview
    assert p is not None and p.eth_balance == 0 and p.gas_missing == p.fee.max_cost > 0
    from app.wallet.units import format_amount

    assert dlg.warning.isVisible()
    assert f"{format_amount(p.gas_missing)} ETH missing" in dlg.warning.text()
    assert not dlg.send_button.isEnabled()
    from app.wallet.errors import InsufficientGas

    with pytest.raises(InsufficientGas) as ei:
        await funded.send(p)
    assert ei.value.missing == p.gas_missing
    assert chain.w3.eth.get_transaction_count(me) == 0


async def test_max_eth_leaves_exactly_the_fee(
    qtbot: QtBot, chain: Devnet, funded: WalletService, wallet_paths: AppPaths
) -> None:
    me = str(funded.address)
    _fund(chain, me, ETH, 0)
    page = await _settled(_page(qtbot, funded, wallet_paths))
    dlg = page.open_send()
    dlg.asset.setCurrentText("ETH")
    dlg.to.setText(Account.create().address)
    await dlg.fill_max()
    await dlg.review()
    p = dlg.preview
    assert p is not None, dlg.errors.text()
    assert p.amount + p.fee.max_cost == ETH and p.gas_missing == 0
    assert dlg.send_button.isEnabled()


async def test_locked_page_unlock_and_seed_clipboard(
    qtbot: QtBot, make_service: Make, wallet_paths: AppPaths
) -> None:
    phrase = generate_mnemonic(12)
    remember(phrase)
    make_service().create_from_mnemonic(phrase, PW)
    svc = make_service()  # as after a restart: locked
    page = _page(qtbot, svc, wallet_paths)
    assert page.stack.currentWidget() is page.locked_view
    page.unlock_password.setText("wrong password")
    await page.unlock()
    assert page.unlock_errors.isVisible() and "not right" in page.unlock_errors.text()
    page.unlock_password.setText(PW)
    await page.unlock()
    qtbot.waitUntil(lambda: page.stack.currentWidget() is page.main_view)
    assert page.address_label.text() == svc.address
    assert page.balances_text() == ("not connected", "not connected")

    dlg = page.open_reveal()
    dlg.password.setText("nope")
    dlg._reveal()
    await dlg.host.last_task
    assert dlg.errors.isVisible() and not dlg.shown_words()
    dlg.password.setText(PW)
    dlg._reveal()
    await dlg.host.last_task
    assert " ".join(dlg.shown_words()) == phrase
    dlg.clipboard_clear_ms = 50
    dlg.copy_button.click()
    clipboard = QGuiApplication.clipboard()
    assert clipboard.text() == phrase
    qtbot.waitUntil(lambda: clipboard.text() == "", timeout=5000)

    page.lock_button.click()
    qtbot.waitUntil(lambda: page.stack.currentWidget() is page.locked_view)


async def test_remembered_password_unlocks_the_page_by_itself(
    qtbot: QtBot, make_service: Make, wallet_paths: AppPaths
) -> None:
    phrase = generate_mnemonic(12)
    remember(phrase)
    make_service().create_from_mnemonic(phrase, PW, remember=True)
    svc = make_service()
    assert not svc.is_unlocked
    page = _page(qtbot, svc, wallet_paths)
    assert page.auto_unlock_task is not None
    await page.auto_unlock_task
    qtbot.waitUntil(lambda: page.stack.currentWidget() is page.main_view)
    assert page.auto_unlock.isChecked()


async def test_no_wallet_offers_the_setup_wizard(
    qtbot: QtBot, make_service: Make, wallet_paths: AppPaths
) -> None:
    svc = make_service()
    page = _page(qtbot, svc, wallet_paths)
    assert page.stack.currentWidget() is page.empty_view
    page.setup_button.click()
    wiz = page.wizard
    assert wiz is not None and wiz.isVisible()
    qtbot.addWidget(wiz)
    wiz.import_button.click()
    wiz.import_tabs.setCurrentIndex(1)
    key = Account.create().key.hex()
    remember(key)
    wiz.key_edit.setText(key)
    wiz.check_key_button.click()
    wiz.import_next.click()
    wiz.password_edit.setText(PW)
    wiz.password_confirm.setText(PW)
    await wiz.save_password()
    qtbot.waitUntil(lambda: page.stack.currentWidget() is page.main_view)
    assert page.address_label.text() == Account.from_key(key).address


async def test_a_new_block_refreshes_balances(
    qtbot: QtBot, chain: Devnet, funded: WalletService, wallet_paths: AppPaths
) -> None:
    """MOR arriving from elsewhere shows up on the next block, not on a timer."""
    from app.services.app_services import services_of

    me = str(funded.address)
    page = await _settled(_page(qtbot, funded, wallet_paths))
    page.refresh_timer.stop()  # only the block event may refresh here
    first = page.refresh()
    assert first is not None
    await first
    before = page.mor_label.text()
    _fund(chain, me, 0, 7 * MOR)

    services_of(page.ctx)._emit("block")  # what the chain watcher does on each new block
    task = page.refresh_task
    assert task is not None and not task.done()
    await task
    assert page.mor_label.text() != before
    assert page.mor_label.text().startswith(str(_mor(chain, me) // MOR))
