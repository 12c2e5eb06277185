"""`morpheus devnet up/status/down`: a background anvil whose state survives a restart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.chain.devnet import DevnetError, dev_account, read_pid_file, start_devnet
from app.chain.networks import load_network_file
from app.cli import main
from tests.contracts.helpers import MOR, send


def test_up_status_down_and_state_survives_a_restart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = str(tmp_path / "dn")
    assert main(["devnet", "--dir", folder, "status"]) == 3
    assert "not set up yet" in capsys.readouterr().out

    assert main(["devnet", "--dir", folder, "up", "--port", "0"]) == 0
    out = capsys.readouterr().out
    assert "contracts deployed" in out
    pid = read_pid_file(Path(folder))
    assert pid is not None
    try:
        net = load_network_file(Path(folder) / "network.json")  # the program's own reader
        assert net.chain_id == 31337
        assert main(["devnet", "--dir", folder, "status"]) == 0
        assert "running" in capsys.readouterr().out
        assert main(["devnet", "--dir", folder, "up", "--port", "0"]) == 1  # already running
        assert "already running" in capsys.readouterr().err

        # move some MOR so there is state to lose
        from web3 import Web3

        w3 = Web3(Web3.HTTPProvider(net.rpc_urls[0]))
        data = json.loads((Path(folder) / "network.json").read_text())
        from app.chain.artifacts import load_artifact

        token = w3.eth.contract(address=data["morToken"], abi=load_artifact("MorpheusToken").abi)
        stranger = "0x000000000000000000000000000000000000bEEF"
        send(token.functions.transfer(stranger, 7 * MOR), dev_account(4).address)
    finally:
        assert main(["devnet", "--dir", folder, "down"]) == 0
    assert "devnet stopped" in capsys.readouterr().out
    assert main(["devnet", "--dir", folder, "status"]) == 3

    devnet = start_devnet(Path(folder))  # reloads state.json: no redeploy
    try:
        assert not devnet.deployed_now
        assert devnet.network["diamond"] == data["diamond"]
        assert devnet.token().functions.balanceOf(stranger).call() == 7 * MOR
        assert devnet.diamond().functions.getBidFee().call() == 3 * 10**17
        saved = json.loads((Path(folder) / "network.json").read_text())
        assert saved["rpcUrls"] == [devnet.rpc_url]  # the new port is recorded
    finally:
        devnet.stop()


def test_a_state_file_for_another_chain_id_is_refused(tmp_path: Path) -> None:
    devnet = start_devnet(tmp_path, chain_id=31337)
    devnet.stop()
    with pytest.raises(DevnetError, match="chain id"):
        start_devnet(tmp_path, chain_id=1337)


def test_a_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(DevnetError, match=f"Port {port} is already in use"):
            start_devnet(tmp_path, port)
    assert not (tmp_path / "network.json").exists()


def test_every_devnet_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["devnet"], ["devnet", "up"], ["devnet", "down"], ["devnet", "status"]):
        with pytest.raises(SystemExit) as exc:
            main([*args, "--help"])
        assert exc.value.code == 0
        assert "usage: morpheus devnet" in capsys.readouterr().out
