"""Chain fixtures: one devnet (anvil + our contracts) and one plain anvil per test session.

Tests that change chain state run inside an ``evm_snapshot``/``evm_revert`` pair, so they do
not see each other's providers, bids or time travel.
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from app.chain.client import ChainClient
from app.chain.devnet import Devnet, anvil_binary, free_port
from app.chain.networks import Network, network_from_dict
from app.chain.tx import TxPolicy
from tests.devnet_fixture import devnet  # noqa: F401  (session fixture)

FAST = TxPolicy(poll_interval=0.05, receipt_timeout=30.0, replace_after=30.0)


def rpc_call(url: str, method: str, params: list[object] | None = None) -> object:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    req = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        answer = json.loads(resp.read())
    if "error" in answer:
        raise RuntimeError(answer["error"])
    return answer["result"]


@pytest.fixture(scope="session")
def chain_devnet(request: pytest.FixtureRequest) -> Devnet:
    """The suite's shared devnet (tests/devnet_fixture.py); every test here snapshots it."""
    dn: Devnet = request.getfixturevalue("devnet")
    return dn


@pytest.fixture
def fresh_devnet(chain_devnet: Devnet) -> Iterator[Devnet]:
    snap = chain_devnet.snapshot()
    try:
        yield chain_devnet
    finally:
        chain_devnet.revert(snap)


@pytest.fixture
def devnet_network(chain_devnet: Devnet) -> Network:
    return network_from_dict(chain_devnet.network)


@pytest.fixture
async def client(fresh_devnet: Devnet) -> AsyncIterator[ChainClient]:
    c = ChainClient(network_from_dict(fresh_devnet.network), policy=FAST)
    await c.connect()
    try:
        yield c
    finally:
        await c.close()


class PlainAnvil:
    def __init__(self, url: str, proc: subprocess.Popen[bytes]) -> None:
        self.url = url
        self.proc = proc

    def rpc(self, method: str, params: list[object] | None = None) -> object:
        return rpc_call(self.url, method, params)


@pytest.fixture(scope="session")
def plain_anvil() -> Iterator[PlainAnvil]:
    """An anvil with nothing deployed, for the transaction manager's own tests."""
    port = free_port()
    proc = subprocess.Popen(
        [str(anvil_binary()), "--host", "127.0.0.1", "--port", str(port), "--chain-id", "31338",
         "--accounts", "10"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )
    anvil = PlainAnvil(f"http://127.0.0.1:{port}", proc)
    try:
        _wait_for(anvil, proc)
        yield anvil
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _wait_for(anvil: PlainAnvil, proc: subprocess.Popen[bytes]) -> None:
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("anvil exited at start")
        try:
            anvil.rpc("eth_chainId")
            return
        except OSError:
            time.sleep(0.05)  # polling with a deadline: anvil has no readiness signal
    raise RuntimeError("anvil did not start")


ANVIL_KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


@pytest.fixture
def funded_account(plain_anvil: PlainAnvil) -> LocalAccount:
    """A brand-new account given 10 ETH through anvil_setBalance (no nonce history)."""
    acct: LocalAccount = Account.create()
    plain_anvil.rpc("anvil_setBalance", [acct.address, hex(10 * 10**18)])
    return acct


def plain_network(anvil: PlainAnvil, urls: list[str] | None = None,
                  chain_id: int = 31338) -> Network:
    """A Network over the plain anvil; token/diamond addresses are placeholders (unused)."""
    return network_from_dict({
        "chainId": chain_id,
        "rpcUrls": urls or [anvil.url],
        "morToken": "0x" + "11" * 20,
        "diamond": "0x" + "22" * 20,
    }, key="plain")


def write_network(path: Path, data: dict[str, object]) -> Path:
    path.write_text(json.dumps(data))
    return path
