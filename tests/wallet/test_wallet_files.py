"""Wallet files on disk: owner-only, damage named as damage (with a copy kept aside, never
overwritten), files of other programs and unusual keystores explained, non-ASCII passwords."""

from __future__ import annotations

import json
import os
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
from eth_account import Account

from app.chain.devnet import Devnet
from app.cli import main
from app.paths import AppPaths, app_paths
from app.services.runtime import Runtime
from app.services.wallet_service import WalletService
from app.storage.settings import Settings
from app.wallet.errors import UnsupportedKeystore, WalletExists, WrongPassword
from app.wallet.store import DamagedWalletFile, ForeignWalletFile
from tests.wallet.secrets_seen import remember

Make = Callable[..., WalletService]
PHRASE = "legal winner thank year wave sausage worth useful legal winner thank yellow"
PW = "Orchid-Lantern-Glacier-58"
UNICODE_PW = "Crème brûlée für Jürgen 日本 🔑 42"
KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
remember(PHRASE, PW, UNICODE_PW)
DAMAGED = "the wallet file is damaged; your recovery phrase restores it"

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")


def _mode(p: Path) -> int:
    return p.stat().st_mode & 0o777


def _copies(svc: WalletService) -> list[Path]:
    return sorted(svc.wallet_file.parent.glob("wallet.json.damaged-*"))


# ----- permissions ----------------------------------------------------------------------------
def test_a_wallet_readable_by_others_is_fixed_and_the_user_told_once(make_service: Make) -> None:
    svc = make_service()
    svc.create_from_mnemonic(PHRASE, PW, remember=True)
    assert _mode(svc.wallet_file) == 0o600
    for f in (svc.wallet_file, svc.secrets.fallback_file):
        os.chmod(f, 0o644)
    os.chmod(svc.paths.wallet, 0o755)

    fresh = make_service()
    assert fresh.address == svc.address  # reading it works and repairs it
    assert _mode(fresh.wallet_file) == 0o600 and _mode(fresh.secrets.fallback_file) == 0o600
    assert _mode(fresh.paths.wallet) == 0o700
    notice = fresh.take_notice()
    assert notice is not None and "now readable only by you" in notice
    assert fresh.take_notice() is None  # told once ...
    assert make_service().load() and make_service().take_notice() is None  # ... and not again


def test_job_and_session_databases_are_owner_only(wallet_paths: AppPaths) -> None:
    rt = Runtime(wallet_paths, Settings(network="devnet"), network_key="devnet")
    me = "0x000000000000000000000000000000000000bEEF"
    rt.runner(31337, me)
    rt.sessions(31337, me)
    folder = next((wallet_paths.data / "accounts").iterdir())
    assert _mode(folder) == 0o700
    assert _mode(folder / "jobs.sqlite3") == 0o600 and _mode(folder / "sessions.sqlite3") == 0o600


# ----- damage ---------------------------------------------------------------------------------
def test_a_damaged_key_is_named_as_damage_not_as_a_wrong_password(make_service: Make) -> None:
    svc = make_service()
    svc.create_from_mnemonic(PHRASE, PW)
    data = json.loads(svc.wallet_file.read_text())
    ct = data["keystore"]["crypto"]["ciphertext"]
    data["keystore"]["crypto"]["ciphertext"] = ("0" if ct[0] != "0" else "1") + ct[1:]
    broken = json.dumps(data, indent=2)
    svc.wallet_file.write_text(broken)

    fresh = make_service()
    with pytest.raises(WrongPassword):  # a wrong password is still called that
        fresh.unlock("Not-The-Password-99")
    with pytest.raises(DamagedWalletFile) as err:
        fresh.unlock(PW)
    assert DAMAGED in err.value.message.lower()
    assert "not right" not in err.value.message and "That password" not in err.value.message
    (copy,) = _copies(fresh)
    assert copy.read_text() == broken and _mode(copy) == 0o600  # kept aside ...
    assert fresh.wallet_file.read_text() == broken  # ... and the original left as it was
    with pytest.raises(DamagedWalletFile):
        fresh.unlock(PW)
    assert len(_copies(fresh)) == 1  # one copy per damaged content, not one per attempt

    with pytest.raises(WalletExists) as refused:  # a new wallet would not restore the money
        fresh.create_from_mnemonic(
            "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
            "abandon about", PW)
    assert DAMAGED in refused.value.message.lower() and "restore" in refused.value.message.lower()
    fresh.create_from_mnemonic(PHRASE, PW, restore=True)  # restoring from the phrase works
    assert fresh.is_unlocked and fresh.address == svc.address
    assert _copies(fresh)[0].read_text() == broken  # and the damaged copy is still there


@pytest.fixture
def cli_home(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:
    base = app_paths().data.parent / "wallet-tests" / f"files-{request.node.name}"
    monkeypatch.setenv("MORPHEUS_HOME", str(base))
    monkeypatch.setenv("MORPHEUS_WALLET_PASSWORD", PW)
    return base


def test_a_truncated_wallet_file_gives_the_damaged_message_for_every_command(
    cli_home: Path, chain: Devnet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    phrase_file = tmp_path / "phrase.txt"
    phrase_file.write_text(PHRASE)
    assert main(["wallet", "import", "mnemonic", "--file", str(phrase_file)]) == 0
    wallet_file = app_paths().wallet / "wallet.json"
    text = wallet_file.read_text()
    wallet_file.write_text(text[: len(text) // 3])  # a crash or a full disk cut it short
    capsys.readouterr()
    rpc = ["--rpc", chain.rpc_url, "--mor-token", chain.network["morToken"]]
    out = tmp_path / "export.json"
    for argv in (["show"], ["export", str(out)], ["balance", *rpc],
                 ["send", "--to", "0x000000000000000000000000000000000000bEEF", "--amount", "1",
                  "--yes", *rpc], ["create"]):
        assert main(["wallet", *argv]) == 1, argv
        err = capsys.readouterr().err
        assert DAMAGED in err.lower(), (argv, err)
        assert "no wallet yet" not in err.lower() and "None" not in err, (argv, err)
    assert not out.exists()
    # `wallet import mnemonic` is the restore; the damaged file stays kept aside.
    assert main(["wallet", "import", "mnemonic", "--file", str(phrase_file)]) == 0
    assert main(["wallet", "show"]) == 0
    copies = list(wallet_file.parent.glob("wallet.json.damaged-*"))
    assert len(copies) == 1 and copies[0].read_text() == text[: len(text) // 3]


def test_a_wallet_file_of_another_program_gets_a_plain_message(make_service: Make) -> None:
    svc = make_service()
    svc.wallet_file.parent.mkdir(parents=True, exist_ok=True)
    geth = json.dumps(Account.encrypt(KEY, PW, kdf="scrypt", iterations=2**10))
    svc.wallet_file.write_text(geth)
    with pytest.raises(ForeignWalletFile) as err:
        svc.unlock(PW)
    assert "not a Morpheus Desktop wallet" in err.value.message
    assert "keystore" in err.value.message and "import" in err.value.message.lower()
    assert not _copies(svc) and svc.wallet_file.read_text() == geth  # nothing damaged, touched
    with pytest.raises(WalletExists):
        svc.create_from_mnemonic(PHRASE, PW)


# ----- unusual keystores and passwords ----------------------------------------------------------
@pytest.mark.parametrize("params", [
    {"kdf": "scrypt", "n": 2**12, "r": 16, "p": 2},
    {"kdf": "scrypt", "n": 2, "r": 1, "p": 1},
    {"kdf": "pbkdf2", "c": 1},
    {"kdf": "pbkdf2", "c": 500_000},
])
def test_keystores_with_unusual_parameters_import(make_service: Make,
                                                  params: dict[str, int | str]) -> None:
    import hashlib

    from app.wallet import keystore as ks

    made = ks.encrypt_keystore(KEY, PW, scrypt_n=2**10)  # then re-derive with the odd settings
    crypto = made["crypto"]
    salt = bytes.fromhex(crypto["kdfparams"]["salt"])
    if params["kdf"] == "scrypt":
        n, r, p = int(params["n"]), int(params["r"]), int(params["p"])
        dk = hashlib.scrypt(PW.encode(), salt=salt, n=n, r=r, p=p, dklen=32,
                            maxmem=128 * r * (n + p + 2) + (1 << 20))
        crypto["kdfparams"] = {"dklen": 32, "n": n, "r": r, "p": p, "salt": salt.hex()}
    else:
        dk = hashlib.pbkdf2_hmac("sha256", PW.encode(), salt, int(params["c"]), 32)
        crypto["kdf"] = "pbkdf2"
        crypto["kdfparams"] = {"dklen": 32, "c": params["c"], "prf": "hmac-sha256",
                               "salt": salt.hex()}
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from eth_utils import keccak

    enc = Cipher(algorithms.AES(dk[:16]), modes.CTR(bytes.fromhex(
        crypto["cipherparams"]["iv"]))).encryptor()
    ct = enc.update(KEY) + enc.finalize()
    crypto["ciphertext"], crypto["mac"] = ct.hex(), keccak(dk[16:32] + ct).hex()
    svc = make_service()
    svc.import_keystore(json.dumps(made), PW)
    assert svc.address == Account.from_key(KEY).address


@pytest.mark.parametrize("change, words", [
    (lambda kp: kp.update(n=3 * 2**10), "not a power of two"),
    (lambda kp: kp.update(n=2**20, r=64), "MiB of memory"),
    (lambda kp: kp.update(r=0), "invalid key-derivation setting"),
])
def test_unusable_scrypt_settings_get_a_plain_message(
    make_service: Make, change: Callable[..., None], words: str
) -> None:
    from app.wallet import keystore as ks

    made = ks.encrypt_keystore(KEY, PW, scrypt_n=2**10)
    change(made["crypto"]["kdfparams"])
    with pytest.raises(UnsupportedKeystore) as err:
        make_service().import_keystore(json.dumps(made), PW)
    assert words in err.value.message
    assert not make_service().exists()


def test_non_ascii_passwords_work_in_either_unicode_form(make_service: Make) -> None:
    svc = make_service()
    svc.create_from_mnemonic(PHRASE, UNICODE_PW)
    svc.lock()
    decomposed = unicodedata.normalize("NFD", UNICODE_PW)  # as typed on another system
    assert decomposed != UNICODE_PW
    remember(decomposed)
    fresh = make_service()
    fresh.unlock(decomposed)
    assert fresh.reveal_mnemonic(UNICODE_PW) == PHRASE
    with pytest.raises(WrongPassword):
        make_service().unlock(UNICODE_PW.replace("ü", "u"))
    # A keystore from another program, made with a non-ASCII password, imports as well.
    theirs = Account.encrypt(KEY, UNICODE_PW, kdf="pbkdf2", iterations=1000)
    other = make_service(secrets=None)
    other.wallet_file.unlink()
    other.import_keystore(json.dumps(theirs), decomposed)
    assert other.address == Account.from_key(KEY).address
    assert UNICODE_PW.encode() not in other.wallet_file.read_bytes()


def test_the_setup_wizard_refuses_a_new_wallet_over_a_damaged_one_but_restores(
    make_service: Make,
) -> None:
    from app.services.onboarding import OnboardingFlow, Step

    svc = make_service()
    svc.create_from_mnemonic(PHRASE, PW)
    text = svc.wallet_file.read_text()
    svc.wallet_file.write_text(text[:100])
    flow = OnboardingFlow(make_service())
    with pytest.raises(WalletExists) as err:
        flow.choose_create()  # before any new words are shown
    assert DAMAGED in err.value.message.lower()
    flow.choose_import()
    flow.import_mnemonic(PHRASE)
    flow.import_done()
    flow.set_password(PW, PW)
    assert flow.step == Step.NETWORK and flow.wallet.address == svc.address
