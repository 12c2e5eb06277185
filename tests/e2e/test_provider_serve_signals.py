"""`morpheus provider serve` as systemd, Docker or a terminal stops it: SIGTERM and SIGINT both
delete the bid before the process exits (a real subprocess, the real SmolLM2, the devnet)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.chain.abi import DIAMOND
from app.chain.devnet import Devnet
from app.cli import build_parser
from app.market.types import id_bytes
from app.paths import app_paths
from tests.devnet_fixture import chain  # noqa: F401  (fixture)

INDEX = 8
PRICE = 10**13


def _bid_active(devnet: Devnet, bid_id: str) -> bool:
    fn = DIAMOND["getBid"]
    out = devnet.w3.eth.call({"to": devnet.network["diamond"],
                              "data": fn.encode(id_bytes(bid_id))})  # type: ignore[typeddict-item]
    bid = fn.decode(bytes(out))[0]
    return bool(bid[4] != 0 and bid[5] == 0)  # createdAt set, deletedAt not


def _bid_price(devnet: Devnet, bid_id: str) -> int:
    fn = DIAMOND["getBid"]
    out = devnet.w3.eth.call({"to": devnet.network["diamond"],
                              "data": fn.encode(id_bytes(bid_id))})  # type: ignore[typeddict-item]
    return int(fn.decode(bytes(out))[0][2])


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stopping_provider_serve_deletes_its_bid(
    chain: Devnet, tmp_path: Path, sig: signal.Signals,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MORPHEUS_HOME", str(tmp_path))
    data = app_paths().ensure().data
    (data / "devnet").mkdir(parents=True, exist_ok=True)
    (data / "devnet" / "network.json").write_text(json.dumps(chain.network))
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "provider", "serve", "--network", "devnet",
         "--dev-account", str(INDEX), "--port", "0", "--price-per-hour", "0.036",
         "--slots", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    bid_id = ""
    try:
        deadline = time.monotonic() + 120
        assert proc.stdout is not None
        while time.monotonic() < deadline and not bid_id:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            lines.append(line)
            m = re.match(r"Bid (0x[0-9a-f]{64})", line)
            if m:
                bid_id = m.group(1)
        assert bid_id, "provider serve never came online:\n" + "".join(lines)
        assert _bid_active(chain, bid_id)
        assert _bid_price(chain, bid_id) == PRICE  # 0.036 MOR per hour = 1e13 wei per second
        proc.send_signal(sig)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = "".join(lines) + rest
    assert proc.returncode in (0, 130), out
    assert "Traceback" not in out, out
    assert "the bid is deleted" in out
    assert not _bid_active(chain, bid_id), "the bid outlived the process"


@pytest.mark.parametrize("name,key", [("base-mainnet", "base"), ("arbitrum-one", "arbitrum"),
                                      ("base-sepolia", "base-sepolia"), ("devnet", "devnet")])
def test_node_commands_accept_every_network_name_help_lists(name: str, key: str) -> None:
    parser = build_parser()
    for argv in (["provider", "serve"], ["chat"], ["sessions"], ["claim"], ["withdraw"]):
        assert parser.parse_args([*argv, "--network", name]).network == key
