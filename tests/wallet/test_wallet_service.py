"""The wallet file lifecycle: create, lock/unlock, change password, reveal, export, accounts,
and what happens to a damaged file."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable

import pytest
from eth_account import Account

from app.services.wallet_service import WalletService
from app.wallet.errors import (
    CorruptWalletFile,
    InvalidMnemonic,
    InvalidPrivateKey,
    NoWallet,
    WalletError,
    WalletExists,
    WalletLocked,
    WeakPassword,
    WrongPassword,
)
from app.wallet.hd import derive_addresses
from tests.wallet.secrets_seen import remember

PHRASE = "letter advice cage absurd amount doctor acoustic avoid letter advice cage above"
PW = "Blue-Otter-Harbor-42"
PW2 = "Quiet lantern over 9 hills"
remember(PHRASE, PW, PW2)

Make = Callable[..., WalletService]


def _file_text(svc: WalletService) -> str:
    return str(svc.wallet_file.read_text())


def test_create_from_phrase_encrypts_everything_owner_only(make_service: Make) -> None:
    svc = make_service()
    assert not svc.exists() and svc.address is None
    svc.create_from_mnemonic(PHRASE, PW)
    expected = derive_addresses(PHRASE, 10)
    assert svc.address == expected[0] and svc.accounts() == expected
    assert svc.is_unlocked and svc.signer.address == expected[0]
    text = _file_text(svc)
    key_hex = Account.from_mnemonic(PHRASE).key.hex().removeprefix("0x")
    remember(key_hex)
    assert PHRASE not in text and "advice" not in text and key_hex not in text and PW not in text
    mode = stat.S_IMODE(svc.wallet_file.stat().st_mode)
    assert mode == 0o600
    with pytest.raises(WalletExists):
        svc.create_from_mnemonic(PHRASE, PW)


def test_unlock_lock_and_wrong_password(make_service: Make) -> None:
    make_service().create_from_mnemonic(PHRASE, PW)
    svc = make_service()  # a fresh start of the program
    assert not svc.is_unlocked
    with pytest.raises(WalletLocked):
        _ = svc.signer
    before = _file_text(svc)
    with pytest.raises(WrongPassword):
        svc.unlock("wrong password")
    assert _file_text(svc) == before
    events: list[str] = []
    svc.add_listener(events.append)
    assert svc.unlock(PW) == derive_addresses(PHRASE, 1)[0]
    svc.lock()
    assert events == ["unlocked", "locked"] and not svc.is_unlocked


def test_idle_lock(make_service: Make) -> None:
    now = [1000.0]
    svc = make_service(idle_lock_seconds=60, clock=lambda: now[0])
    svc.create_from_mnemonic(PHRASE, PW)
    now[0] += 59
    assert not svc.check_idle() and svc.is_unlocked
    _ = svc.signer  # using the wallet counts as activity
    now[0] += 59
    assert not svc.check_idle()
    now[0] += 2
    assert svc.check_idle() and not svc.is_unlocked


def test_change_password_and_reveal(make_service: Make) -> None:
    svc = make_service()
    svc.create_from_mnemonic(PHRASE, PW)
    with pytest.raises(WrongPassword):
        svc.change_password("nope", PW2)
    with pytest.raises(WeakPassword):
        svc.change_password(PW, "abc")
    with pytest.raises(WeakPassword):
        svc.change_password(PW, PW2, confirm=PW2 + "x")
    svc.change_password(PW, PW2)
    fresh = make_service()
    with pytest.raises(WrongPassword):
        fresh.unlock(PW)
    fresh.unlock(PW2)
    with pytest.raises(WrongPassword):
        fresh.reveal_mnemonic(PW)
    assert fresh.reveal_mnemonic(PW2) == PHRASE


def test_export_keystore_round_trips_through_eth_account(make_service: Make) -> None:
    svc = make_service()
    svc.create_from_mnemonic(PHRASE, PW)
    key = Account.from_mnemonic(PHRASE).key
    assert Account.decrypt(svc.export_keystore(PW), PW) == key
    other = svc.export_keystore(PW, export_password=PW2)
    assert Account.decrypt(other, PW2) == key
    with pytest.raises(WrongPassword):
        svc.export_keystore("wrong")


def test_account_picker_switch(make_service: Make) -> None:
    svc = make_service()
    svc.create_from_mnemonic(PHRASE, PW, account_index=0)
    addrs = svc.accounts()
    assert svc.select_account(3, PW) == addrs[3]
    fresh = make_service()
    assert fresh.address == addrs[3]
    assert fresh.unlock(PW) == addrs[3]
    assert fresh.load().account_index == 3


def test_import_private_key_and_keystore(make_service: Make, wallet_paths: object) -> None:
    key = Account.from_mnemonic(PHRASE, account_path="m/44'/60'/0'/0/5").key
    remember(key.hex().removeprefix("0x"))
    svc = make_service()
    with pytest.raises(InvalidPrivateKey):
        svc.import_private_key("0x1234", PW)
    assert not svc.exists()
    svc.import_private_key("0x" + key.hex().removeprefix("0x"), PW)
    assert svc.address == Account.from_key(key).address
    with pytest.raises(WalletError) as ei:
        svc.reveal_mnemonic(PW)
    assert "no recovery phrase" in ei.value.message
    exported = svc.export_keystore(PW)
    svc.wallet_file.unlink()
    with pytest.raises(WrongPassword):
        svc.import_keystore(json.dumps(exported), "wrong")
    assert not svc.exists()
    svc.import_keystore(json.dumps(exported), PW, PW2)
    fresh = make_service()
    assert fresh.unlock(PW2) == Account.from_key(key).address


def test_bad_phrase_creates_nothing(make_service: Make) -> None:
    svc = make_service()
    with pytest.raises(InvalidMnemonic):
        svc.create_from_mnemonic(PHRASE.replace("cage", "cagee"), PW)
    with pytest.raises(WeakPassword):
        svc.create_from_mnemonic(PHRASE, "password1")
    assert not svc.exists()


@pytest.mark.parametrize(
    "damage",
    [
        lambda t: t[: len(t) // 2],
        lambda t: "\x00\xff" + t,
        lambda t: json.dumps({"format": "something else"}),
        lambda t: t.replace('"keystore"', '"keystorx"'),
    ],
)
def test_corrupt_wallet_file_clear_error_and_untouched(make_service: Make, damage: object) -> None:
    svc = make_service()
    svc.create_from_mnemonic(PHRASE, PW)
    broken = damage(_file_text(svc))  # type: ignore[operator]
    svc.wallet_file.write_text(broken)
    fresh = make_service()
    for action in (
        lambda: fresh.unlock(PW),
        lambda: fresh.change_password(PW, PW2),
        lambda: fresh.reveal_mnemonic(PW),
        lambda: fresh.select_account(1, PW),
    ):
        with pytest.raises(CorruptWalletFile) as ei:
            action()
        assert "damaged" in ei.value.message and "left exactly" in ei.value.message
    assert fresh.address is None
    assert _file_text(fresh) == broken
    with pytest.raises(WalletExists):  # and it is never overwritten by a new wallet
        fresh.create_from_mnemonic(PHRASE, PW)


def test_no_wallet_yet(make_service: Make) -> None:
    with pytest.raises(NoWallet):
        make_service().unlock(PW)
