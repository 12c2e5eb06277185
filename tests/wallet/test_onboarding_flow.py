"""The onboarding navigation map, headless: every path a first-time user can take."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from eth_account import Account

from app.services.onboarding import OnboardingFlow, Step
from app.services.wallet_service import WalletService
from app.wallet.errors import InvalidMnemonic, InvalidPrivateKey, WeakPassword, WrongPassword
from app.wallet.hd import derive_addresses
from tests.wallet.secrets_seen import remember

PW = "Copper-Willow-Sunrise-8"
PHRASE = "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong"
remember(PW)

Make = Callable[..., WalletService]


def test_create_confirm_password_network(make_service: Make) -> None:
    svc = make_service()
    flow = OnboardingFlow(svc, rng=random.Random(7))
    assert flow.step == Step.WELCOME and not flow.can_go_back()
    flow.choose_create()
    words = flow.words
    remember(" ".join(words))
    assert len(words) == 12 and flow.step == Step.CREATE_SHOW
    flow.words_written_down()
    assert sorted(flow.choices) == sorted(words)
    with pytest.raises(InvalidMnemonic):
        flow.confirm_done()
    wrong = next(w for w in flow.choices if w != words[0])
    assert not flow.pick(wrong) and flow.picked == []
    for w in words:
        assert flow.pick(w)
    assert flow.confirmed
    flow.confirm_done()
    assert flow.step == Step.PASSWORD
    with pytest.raises(WeakPassword):
        flow.set_password(PW, PW + "!")
    with pytest.raises(WeakPassword):
        flow.set_password("qwerty", "qwerty")
    assert not svc.exists()
    flow.set_password(PW, PW)
    assert flow.step == Step.NETWORK and svc.exists()
    assert flow.words == []  # the phrase is no longer held by the wizard
    assert svc.address == derive_addresses(" ".join(words), 1)[0]
    assert not flow.can_go_back()
    flow.choose_network("base-sepolia")
    assert flow.step == Step.DONE and flow.network == "base-sepolia"
    assert make_service().reveal_mnemonic(PW) == " ".join(words)


def test_back_from_confirm_shows_the_same_words(make_service: Make) -> None:
    flow = OnboardingFlow(make_service())
    flow.choose_create()
    words = flow.words
    flow.words_written_down()
    flow.pick(words[0])
    flow.back()
    assert flow.step == Step.CREATE_SHOW and flow.words == words
    flow.back()
    assert flow.step == Step.WELCOME
    flow.choose_create()
    assert flow.words == words


def test_import_phrase_with_account_picker(make_service: Make) -> None:
    svc = make_service()
    flow = OnboardingFlow(svc)
    flow.choose_import()
    with pytest.raises(InvalidMnemonic) as ei:
        flow.import_mnemonic(PHRASE.replace("wrong", "wrnog"))
    assert "wrong" in ei.value.suggestions[12]
    accounts = flow.import_mnemonic(PHRASE)
    remember(PHRASE)
    assert accounts == derive_addresses(PHRASE, 10)
    flow.choose_account(4)
    flow.import_done()
    flow.set_password(PW, PW)
    assert svc.address == accounts[4]
    assert make_service().reveal_mnemonic(PW) == PHRASE


def test_import_key_and_keystore(make_service: Make) -> None:
    key = Account.from_mnemonic(PHRASE, account_path="m/44'/60'/0'/0/7").key
    remember(key.hex().removeprefix("0x"))
    flow = OnboardingFlow(make_service())
    flow.choose_import()
    with pytest.raises(InvalidPrivateKey):
        flow.import_private_key("abc")
    ks = Account.encrypt(key, "keystore-pass-1", kdf="scrypt", iterations=2**10)
    with pytest.raises(WrongPassword):
        flow.import_keystore(str(ks).replace("'", '"'), "nope")
    import json

    addr = flow.import_keystore(json.dumps(ks), "keystore-pass-1")
    assert addr == Account.from_key(key).address
    flow.import_done()
    flow.set_password(PW, PW)
    assert flow.wallet.address == addr
