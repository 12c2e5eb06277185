"""`morpheus wallet ...` end to end in-process: create, show, export, import errors, and a MOR
transfer on the devnet with the password from the environment, as a script would run it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from eth_account import Account

from app.chain.devnet import Devnet
from app.cli import main
from app.paths import app_paths
from app.wallet.keystore import decrypt_keystore
from tests.wallet.secrets_seen import remember

PW = "Velvet-Compass-Thunder-19"
remember(PW)


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:
    base = app_paths().data.parent / "wallet-tests" / f"cli-{request.node.name}"
    monkeypatch.setenv("MORPHEUS_HOME", str(base))
    monkeypatch.setenv("MORPHEUS_WALLET_PASSWORD", PW)
    return base


@pytest.mark.parametrize("action", ["create", "import", "show", "export", "balance", "send"])
def test_every_action_has_help(action: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ei:
        main(["wallet", action, "--help"])
    assert ei.value.code == 0
    assert f"morpheus wallet {action}" in capsys.readouterr().out


def test_create_show_export(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["wallet", "create"]) == 0
    out = capsys.readouterr().out
    words = re.findall(r"\b\d+\. (\w+)", out)
    phrase = " ".join(words)
    remember(phrase)
    assert len(words) == 12
    addr = Account.from_mnemonic(phrase).address
    assert f"Address: {addr}" in out
    assert main(["wallet", "create"]) == 1
    assert "already exists" in capsys.readouterr().err

    assert main(["wallet", "show", "--json", "--accounts"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["address"] == addr and len(info["accounts"]) == 10

    out_file = tmp_path / "exported.json"
    assert main(["wallet", "export", str(out_file)]) == 0
    # eth-account interop of our keystores is covered in test_keystore; the faster reader here
    key = decrypt_keystore(out_file.read_text(), PW)
    remember(key.hex())
    assert Account.from_key(key).address == addr


def test_import_errors_change_nothing(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    short = tmp_path / "key.txt"
    short.write_text("0x" + "ab" * 20)
    assert main(["wallet", "import", "key", "--file", str(short)]) == 1
    assert "64 hexadecimal" in capsys.readouterr().err
    bad = tmp_path / "phrase.txt"
    bad.write_text("legal winner thank year wave sausage worth useful legal winner thank yelow")
    assert main(["wallet", "import", "mnemonic", "--file", str(bad)]) == 1
    assert "yellow" in capsys.readouterr().err
    assert not (home / "data" / "wallet" / "wallet.json").exists()


def test_send_mor_from_the_command_line(
    home: Path, tmp_path: Path, chain: Devnet, capsys: pytest.CaptureFixture[str]
) -> None:
    key = Account.create().key
    remember(key.hex())
    key_file = tmp_path / "k.txt"
    key_file.write_text(key.hex())
    assert main(["wallet", "import", "key", "--file", str(key_file)]) == 0
    key_file.unlink()
    me = Account.from_key(key).address
    w3 = chain.w3
    w3.eth.wait_for_transaction_receipt(
        w3.eth.send_transaction({"from": chain.accounts[2], "to": me, "value": 10**18})
    )
    token = chain.token()
    w3.eth.wait_for_transaction_receipt(
        token.functions.transfer(me, 5 * 10**18).transact({"from": chain.accounts[2]})
    )
    friend = Account.create().address
    rpc = ["--rpc", chain.rpc_url, "--mor-token", chain.network["morToken"]]
    capsys.readouterr()
    assert main(["wallet", "balance", *rpc]) == 0
    assert "MOR: 5\n" in capsys.readouterr().out
    assert main(["wallet", "send", "--to", friend, "--amount", "6", "--yes", *rpc]) == 1
    assert "1 MOR missing" in capsys.readouterr().err
    args = ["wallet", "send", "--to", friend, "--amount", "1.25", "--yes", "--wait", "30", *rpc]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Status: confirmed" in out
    assert int(token.functions.balanceOf(friend).call()) == 125 * 10**16
    assert int(token.functions.balanceOf(me).call()) == 375 * 10**16

    # By network name: the send goes through the program's chain client and tx manager.
    from app.chain.devnet import network_file

    network_file().parent.mkdir(parents=True, exist_ok=True)
    network_file().write_text(json.dumps(chain.network))
    args = ["wallet", "send", "--to", friend, "--amount", "0.75", "--yes", "--wait", "30",
            "--network", "devnet"]
    assert main(args) == 0
    assert "Status: confirmed" in capsys.readouterr().out
    assert int(token.functions.balanceOf(friend).call()) == 2 * 10**18
