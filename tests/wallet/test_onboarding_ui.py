"""The onboarding wizard with real widgets (offscreen): create and confirm the words, or import."""

from __future__ import annotations

from collections.abc import Callable

from pytestqt.qtbot import QtBot

from app.services.onboarding import Step
from app.services.wallet_service import WalletService
from app.ui.wallet.onboarding import OnboardingWizard
from app.wallet.hd import derive_addresses
from tests.wallet.secrets_seen import remember

PW = "Granite-Pelican-Lantern-31"
PHRASE = "forum join pitch dove yellow purchase shuffle real situate danger million bunker"
remember(PW, PHRASE)

Make = Callable[..., WalletService]


def _wizard(qtbot: QtBot, svc: WalletService) -> OnboardingWizard:
    wiz = OnboardingWizard(svc)
    qtbot.addWidget(wiz)
    wiz.show()
    return wiz


async def test_create_confirm_and_finish(qtbot: QtBot, make_service: Make) -> None:
    svc = make_service()
    wiz = _wizard(qtbot, svc)
    assert wiz.current_step() == Step.WELCOME and not wiz.back_button.isVisible()
    wiz.create_button.click()
    words = wiz.shown_words()
    remember(" ".join(words))
    assert len(words) == 12 and wiz.stack.currentWidget() is wiz.pages[Step.CREATE_SHOW]
    wiz.written_button.click()
    assert wiz.current_step() == Step.CREATE_CONFIRM
    assert sorted(b.text() for b in wiz.choice_buttons) == sorted(words)
    assert not wiz.confirm_button.isEnabled()

    wrong = next(w for w in words if w != words[0])
    wiz.pick_word(wrong)
    assert wiz.errors.isVisible() and "is not word 1" in wiz.errors.text()
    for w in words[:3]:
        wiz.pick_word(w)
    wiz.undo_button.click()  # take the third word back, then pick it again
    for w in words[2:]:
        wiz.pick_word(w)
    assert wiz.confirm_button.isEnabled()
    wiz.confirm_button.click()
    assert wiz.current_step() == Step.PASSWORD

    wiz.password_edit.setText("letmein")
    assert wiz.strength_bar.value() == 0 and "weak" in wiz.strength_label.text()
    wiz.password_edit.setText(PW)
    assert wiz.strength_bar.value() >= 2
    wiz.password_confirm.setText(PW + "typo")
    await wiz.save_password()
    assert "not the same" in wiz.errors.text() and not svc.exists()
    wiz.password_confirm.setText(PW)
    await wiz.save_password()
    assert wiz.current_step() == Step.NETWORK and svc.exists()
    assert wiz.password_edit.text() == ""

    chosen: list[str] = []
    wiz.finished_with_network.connect(chosen.append)
    wiz.network_buttons["base-sepolia"].setChecked(True)
    wiz.network_next.click()
    assert chosen == ["base-sepolia"] and wiz.current_step() == Step.DONE
    assert svc.address == derive_addresses(" ".join(words), 1)[0]
    assert make_service().reveal_mnemonic(PW) == " ".join(words)


async def test_import_phrase_with_a_typo_then_pick_account(
    qtbot: QtBot, make_service: Make
) -> None:
    svc = make_service()
    wiz = _wizard(qtbot, svc)
    wiz.import_button.click()
    assert wiz.current_step() == Step.IMPORT
    wiz.phrase_edit.setPlainText(PHRASE.replace("purchase", "purchse"))
    wiz.check_phrase_button.click()
    assert wiz.errors.isVisible()
    assert "word 6" in wiz.errors.text() and "purchase" in wiz.errors.text()
    assert not wiz.import_next.isEnabled() and wiz.account_list.count() == 0

    wiz.phrase_edit.setPlainText(PHRASE)
    wiz.check_phrase_button.click()
    assert not wiz.errors.isVisible()
    expected = derive_addresses(PHRASE, 10)
    assert [wiz.account_list.item(i).text().split(". ")[1] for i in range(10)] == expected
    wiz.account_list.setCurrentRow(2)
    wiz.import_next.click()
    assert wiz.current_step() == Step.PASSWORD
    wiz.password_edit.setText(PW)
    wiz.password_confirm.setText(PW)
    await wiz.save_password()
    assert svc.address == expected[2]


async def test_import_private_key_wrong_length(qtbot: QtBot, make_service: Make) -> None:
    svc = make_service()
    wiz = _wizard(qtbot, svc)
    wiz.import_button.click()
    wiz.import_tabs.setCurrentIndex(1)
    wiz.key_edit.setText("0x" + "ab" * 31)
    wiz.check_key_button.click()
    assert "64 hexadecimal" in wiz.errors.text() and not wiz.import_next.isEnabled()
    assert not svc.exists()
