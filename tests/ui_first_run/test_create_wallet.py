"""Creating and restoring a wallet through the in-window steps, with real clicks."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QPushButton
from pytestqt.qtbot import QtBot

from app.chain.devnet import Devnet
from app.paths import AppPaths
from app.services.first_start import WELCOME_DONE
from app.services.onboarding import PRACTICE_ETH, PRACTICE_MOR, Step
from app.wallet.hd import derive_addresses
from tests.ui_first_run.conftest import (
    Launch,
    add_practice_network,
    visible_top_levels,
    wait_until,
)

PW = "Quartz-Meadow-Falcon-72"


def _click_words_where_they_were(qtbot: QtBot, window, wiz, words: list[str]) -> None:
    """Click each word at the place its button had before any word was picked, and check
    that nothing moved: every click lands on the word aimed at."""
    QApplication.processEvents()  # laid out, as the user sees them
    buttons = list(wiz.choice_buttons)
    slots = [(b.text(), b.mapTo(window, b.rect().center())) for b in buttons]
    geometry = [b.geometry() for b in buttons]
    picked_height = wiz.phrase_check.picked_area.height()
    used: set[int] = set()
    for word in words:
        i = next(i for i, (text, _pos) in enumerate(slots) if text == word and i not in used)
        used.add(i)
        target = window.childAt(slots[i][1])
        assert isinstance(target, QPushButton) and target.text() == word
        qtbot.mouseClick(target, Qt.MouseButton.LeftButton)
        QApplication.processEvents()
        assert [b.geometry() for b in buttons] == geometry, "a word button moved"
        assert wiz.phrase_check.picked_area.height() == picked_height
        assert not wiz.errors.isVisible(), wiz.errors.text()


async def test_create_a_wallet_on_the_practice_network_end_to_end(
    launch: Launch, paths: AppPaths, chain: Devnet, qtbot: QtBot
) -> None:
    add_practice_network(paths, chain.network)
    window = launch()
    wiz = window.welcome.wizard
    wiz.create_button.click()
    words = wiz.shown_words()
    assert len(words) == 12 and wiz.current_step() == Step.CREATE_SHOW
    wiz.written_button.click()
    _click_words_where_they_were(qtbot, window, wiz, words)
    assert wiz.phrase_check.picked_text() == [f"{i + 1}. {w}" for i, w in enumerate(words)]
    assert wiz.confirm_button.isEnabled()
    wiz.confirm_button.click()

    wiz.password_edit.setText(PW)
    wiz.password_confirm.setText(PW)
    first = wiz.save_password()
    again = wiz.save_password()  # a double click on "Save wallet"
    qtbot.mouseDClick(wiz.password_next, Qt.MouseButton.LeftButton)
    assert first is not None and again is first
    await first
    assert wiz.current_step() == Step.NETWORK
    assert sorted(p.name for p in paths.wallet.glob("wallet.json*")) == ["wallet.json"]

    practice = wiz.network_buttons["devnet"]
    assert practice.text().startswith("Practice network on this computer")
    assert wiz.network_buttons["base"].text().startswith("Base \u2014 the main network")
    practice.click()
    finished: list[str] = []
    wiz.finished_with_network.connect(finished.append)
    qtbot.mouseDClick(wiz.network_next, Qt.MouseButton.LeftButton)
    wiz.network_next.click()
    assert finished == ["devnet"] and wiz.current_step() == Step.DONE
    assert wiz.funding_hint.isVisible() and "play money" in wiz.funding_hint.text()
    saved = json.loads(paths.settings_file.read_text())
    assert saved["network"] == "devnet" and saved[WELCOME_DONE] is True

    # The practice network fills the new wallet with play money, once however often pressed.
    address = derive_addresses(" ".join(words), 1)[0]
    assert wiz.play_money_button.isVisible()
    sending = wiz.get_play_money()
    assert sending is not None and wiz.get_play_money() is sending
    await sending
    assert not wiz.errors.isVisible(), wiz.errors.text()
    assert "play MOR" in wiz.play_money.status.text() and not wiz.play_money_button.isVisible()
    assert chain.w3.eth.get_balance(address) == PRACTICE_ETH
    assert chain.token().functions.balanceOf(address).call() == PRACTICE_MOR

    wiz.open_wallet_button.click()
    assert window.welcome is None and window.current_page_key() == "wallet"
    assert visible_top_levels() == [window]
    page = window.stack.currentWidget()
    assert window.ctx.wallet.address == address
    await wait_until(lambda: page.stack.currentWidget() is page.main_view, timeout=20)
    assert address in page.address_label.text() or page.address_label.text().startswith(
        address[:6])


async def test_wallet_page_setup_uses_the_same_steps_in_the_window(
    launch: Launch, paths: AppPaths, qtbot: QtBot
) -> None:
    from eth_account import Account

    window = launch()
    window.welcome.wizard.skip_button.click()
    page = window.show_page("wallet")
    assert page.stack.currentWidget() is page.empty_view
    page.setup_button.click()
    assert window.welcome is not None and window.stack.currentWidget() is window.welcome
    assert visible_top_levels() == [window]
    wiz = window.welcome.wizard
    assert wiz is page.wizard and not wiz.try_local_button.isVisible()
    assert wiz.skip_button.text() == "Cancel"
    wiz.skip_button.click()
    assert window.welcome is None and window.current_page_key() == "wallet"

    page.setup_button.click()
    wiz = window.welcome.wizard
    wiz.import_button.click()
    wiz.import_tabs.setCurrentIndex(1)
    key = Account.create().key.hex()
    wiz.key_edit.setText(key)
    wiz.check_key_button.click()
    wiz.import_next.click()
    wiz.password_edit.setText(PW)
    wiz.password_confirm.setText(PW)
    task = wiz.save_password()
    assert task is not None
    await task
    assert "devnet" not in wiz.network_buttons, "no practice network set up on this computer"
    wiz.network_buttons["base-sepolia"].click()
    wiz.network_next.click()
    assert "If this wallet already holds" in wiz.funding_hint.text()
    assert not wiz.play_money_button.isVisible()
    wiz.open_wallet_button.click()
    assert window.current_page_key() == "wallet"
    await wait_until(lambda: page.stack.currentWidget() is page.main_view, timeout=20)
    assert window.ctx.wallet.address == Account.from_key(key).address


def test_play_money_without_a_running_practice_network_says_so(paths: AppPaths) -> None:
    import pytest

    from app.services.onboarding import PracticeFundsError, fund_from_practice_network

    address = "0x" + "11" * 20
    with pytest.raises(PracticeFundsError, match="not set up"):
        fund_from_practice_network(paths.data, address)
    add_practice_network(paths, {"name": "devnet", "chainId": 31337,
                                 "rpcUrls": ["http://127.0.0.1:9"], "morToken": address})
    with pytest.raises(PracticeFundsError, match="does not answer"):
        fund_from_practice_network(paths.data, address)
