"""V3 keystore interop with eth-account both ways, and keystores from other programs."""

from __future__ import annotations

import copy
import json

import pytest
from eth_account import Account

from app.wallet.errors import CorruptWalletFile, UnsupportedKeystore, WrongPassword
from app.wallet.keystore import decrypt_keystore, encrypt_keystore, parse_keystore

KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
ADDRESS = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"
PW = "correct horse battery staple"


def test_our_keystore_opens_in_eth_account() -> None:
    ks = encrypt_keystore(KEY, PW, scrypt_n=2**12)
    assert ks["version"] == 3 and ks["crypto"]["kdf"] == "scrypt"
    assert Account.decrypt(ks, PW) == KEY
    assert "0x" + ks["address"].lower().removeprefix("0x") == ADDRESS.lower()


def test_default_keystore_uses_standard_scrypt_cost() -> None:
    ks = encrypt_keystore(KEY, PW)
    assert ks["crypto"]["kdfparams"]["n"] == 2**18
    assert decrypt_keystore(ks, PW) == KEY


@pytest.mark.parametrize("kdf", ["scrypt", "pbkdf2"])
def test_eth_account_keystore_opens_here(kdf: str) -> None:
    ks = Account.encrypt(KEY, PW, kdf=kdf, iterations=2**12 if kdf == "scrypt" else 1000)
    assert decrypt_keystore(json.dumps(ks), PW) == KEY


def test_geth_style_capitalised_crypto_section() -> None:
    ks = Account.encrypt(KEY, PW, kdf="scrypt", iterations=2**10)
    ks["Crypto"] = ks.pop("crypto")
    assert decrypt_keystore(ks, PW) == KEY


def test_wrong_password() -> None:
    ks = encrypt_keystore(KEY, PW, scrypt_n=2**10)
    with pytest.raises(WrongPassword) as ei:
        decrypt_keystore(ks, "not the password")
    assert "password" in ei.value.message.lower()


def test_odd_scrypt_n_is_a_clear_error() -> None:
    ks = Account.encrypt(KEY, PW, kdf="scrypt", iterations=2**10)
    ks["crypto"]["kdfparams"]["n"] = 1000
    with pytest.raises(UnsupportedKeystore) as ei:
        decrypt_keystore(ks, PW)
    assert "n=1000" in ei.value.message


def test_huge_scrypt_memory_is_refused_before_trying() -> None:
    ks = Account.encrypt(KEY, PW, kdf="scrypt", iterations=2**10)
    ks["crypto"]["kdfparams"]["n"] = 2**24
    with pytest.raises(UnsupportedKeystore) as ei:
        decrypt_keystore(ks, PW)
    assert "MiB" in ei.value.message


def test_unknown_prf_kdf_cipher_and_version() -> None:
    base = Account.encrypt(KEY, PW, kdf="pbkdf2", iterations=100)
    bad_prf = copy.deepcopy(base)
    bad_prf["crypto"]["kdfparams"]["prf"] = "hmac-sha512"
    bad_kdf = copy.deepcopy(base)
    bad_kdf["crypto"]["kdf"] = "argon2id"
    bad_cipher = copy.deepcopy(base)
    bad_cipher["crypto"]["cipher"] = "aes-128-cbc"
    v1 = copy.deepcopy(base)
    v1["version"] = 1
    for ks, word in (
        (bad_prf, "hmac-sha512"),
        (bad_kdf, "argon2id"),
        (bad_cipher, "aes-128-cbc"),
        (v1, "version"),
    ):
        with pytest.raises(UnsupportedKeystore) as ei:
            decrypt_keystore(ks, PW)
        assert word in ei.value.message


@pytest.mark.parametrize("text", ["", "{not json", "[1, 2]", '{"version": 3}'])
def test_corrupt_keystore_text(text: str) -> None:
    with pytest.raises(CorruptWalletFile):
        parse_keystore(text) if text != '{"version": 3}' else decrypt_keystore(text, PW)


def test_tampered_ciphertext_or_address() -> None:
    ks = encrypt_keystore(KEY, PW, scrypt_n=2**10)
    flipped = copy.deepcopy(ks)
    ct = flipped["crypto"]["ciphertext"]
    flipped["crypto"]["ciphertext"] = ("0" if ct[0] != "0" else "1") + ct[1:]
    with pytest.raises(WrongPassword):  # the MAC covers the ciphertext
        decrypt_keystore(flipped, PW)
    wrong_addr = copy.deepcopy(ks)
    wrong_addr["address"] = "00" * 20
    with pytest.raises(CorruptWalletFile):
        decrypt_keystore(wrong_addr, PW)
