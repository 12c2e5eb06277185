"""Delegation both ways on a real devnet (spec §4.3): a provider serving with a hot key its main
wallet authorised on the delegate registry is accepted by our consumer, and its approval opens a
session on the real contract; a key nobody authorised is refused before any money moves."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from web3 import Web3
from web3.logs import DISCARD

from app.chain.artifacts import load_artifact
from app.chain.client import ChainClient
from app.chain.delegation import PROVIDER_RULE, DelegationChecker, checker_for
from app.chain.devnet import Devnet
from app.chain.networks import network_from_dict
from app.commands.hot_key import HOT_PASSWORD_ENV
from app.inference.library import bundled_model_path
from app.p2p.consumer_client import ProviderClient
from app.p2p.errors import ProviderMisbehaved
from app.p2p.keys import LocalKey
from app.p2p.provider_server import ProviderConfig, ProviderServer
from app.paths import app_paths
from app.services.chain_lookup import ChainSessionLookup
from tests.contracts.helpers import MOR, Market, send, setup_market
from tests.devnet_fixture import chain_snapshot, devnet
from tests.p2p.conftest import TEST_LIMITS, TOKENS, CountingEngine

__all__ = ["chain_snapshot", "devnet"]
PROVIDER_INDEX = 1  # setup_market's provider: devnet account 1 = `--dev-account 1`
HI = {"messages": [{"role": "user", "content": "hi"}], "stream": True}


@dataclass
class World:
    devnet: Devnet
    market: Market
    client: ChainClient
    checker: DelegationChecker


@pytest.fixture
async def world(chain_snapshot: Devnet) -> AsyncIterator[World]:
    market = setup_market(chain_snapshot)
    client = ChainClient(network_from_dict(chain_snapshot.network))
    await client.connect()
    try:
        yield World(chain_snapshot, market, client, DelegationChecker(client.rpc, client.diamond))
    finally:
        await client.close()


def _server(w: World, key: LocalKey) -> ProviderServer:
    config = ProviderConfig(
        chain_id=w.devnet.chain_id,
        model_name="fake",
        provider_address=w.market.provider,
        limits=TEST_LIMITS,
    )
    return ProviderServer(
        key,
        ChainSessionLookup(w.client),
        CountingEngine(),
        config,
        chain_clock=lambda: float(w.devnet.timestamp()),
    )


def _consumer(w: World, server: ProviderServer) -> ProviderClient:
    return ProviderClient(
        server.endpoint,
        LocalKey(w.market.user_key),
        w.market.provider,
        chain_id=w.devnet.chain_id,
        delegate_check=w.checker,
        read_timeout=10,
        idle_timeout=10,
    )


async def test_a_delegated_hot_key_serves_and_an_unauthorised_one_is_refused(w: World) -> None:
    m, hot, stranger = w.market, LocalKey.generate(), LocalKey.generate()
    registry = w.devnet.w3.eth.contract(
        address=w.devnet.network["delegateRegistry"], abi=load_artifact("DelegateRegistry").abi
    )
    send(
        registry.functions.delegateContract(
            Web3.to_checksum_address(hot.address), m.diamond.address, PROVIDER_RULE, True
        ),
        m.provider,
    )
    assert await w.checker(m.provider, hot.address)
    assert not await w.checker(m.provider, stranger.address)
    from_service = checker_for(w.client)  # what the consumer service hands its clients
    assert from_service is not None and await from_service(m.provider, hot.address)

    async with _server(w, stranger) as rogue:
        with pytest.raises(ProviderMisbehaved):
            await _consumer(w, rogue).request_session(m.bid_id, spend=MOR)
        assert rogue.engine.calls == 0  # type: ignore[attr-defined]

    async with _server(w, hot) as server:
        consumer = _consumer(w, server)
        assert (await consumer.ping()).version
        approval = await consumer.request_session(m.bid_id, spend=MOR)
        # the contract itself accepts the hot key's approval through the delegation
        open_fn = m.diamond.functions.openSession(
            m.user, MOR, False, approval.approval, approval.approval_sig
        )
        receipt = send(open_fn, m.user)
        (event,) = m.diamond.events.SessionOpened().process_receipt(receipt, errors=DISCARD)
        session_id = bytes(event.args.sessionId)
        chunks = [c async for c in consumer.prompt(session_id, HI)]
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
        assert text == "".join(TOKENS)
        report, signature = await consumer.report(session_id)
        assert len(report) == 224 and len(signature) == 65


@pytest.fixture
def w(world: World) -> World:
    return world


def _cli(home: Path, *args: str, password: str = "hot horse battery") -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(Path.cwd()),
        "MORPHEUS_HOME": str(home),
        HOT_PASSWORD_ENV: password,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _run(home: Path, *args: str) -> tuple[int, str]:
    proc = _cli(home, *args)
    out, _ = proc.communicate(timeout=120)
    return proc.returncode, out


def _new_hot_key(home: Path, name: str) -> tuple[Path, str]:
    path = home / name
    code, out = _run(home, "provider", "hot-key", "new", str(path))
    assert code == 0, out
    match = re.search(r"Hot key (0x[0-9a-f]{40}) written", out)
    assert match, out
    assert "hot horse" not in out and path.stat().st_mode & 0o077 == 0  # owner-only file
    return path, match.group(1)


async def test_cli_serves_with_an_authorised_hot_key_and_refuses_another(
    w: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator's whole path through `morpheus`: make a hot key, authorise it from the main
    wallet (a real registry transaction), serve the main wallet's bid with only the hot key and
    the real SmolLM2; a key that was never authorised does not start."""
    if bundled_model_path() is None:
        pytest.fail("the bundled SmolLM2 model is not installed")
    m = w.market
    hot_path, hot = _new_hot_key(tmp_path, "hot.json")
    other_path, other = _new_hot_key(tmp_path, "other.json")
    monkeypatch.setenv("MORPHEUS_HOME", str(tmp_path))  # the CLI's settings: this devnet
    home_data = app_paths().ensure().data / "devnet"
    home_data.mkdir(parents=True, exist_ok=True)
    (home_data / "network.json").write_text(json.dumps(w.devnet.network))

    code, out = await asyncio.to_thread(
        _run,
        tmp_path,
        "provider",
        "hot-key",
        "authorize",
        hot,
        "--network",
        "devnet",
        "--dev-account",
        str(PROVIDER_INDEX),
    )
    assert code == 0, out
    assert await DelegationChecker(w.client.rpc, w.client.diamond)(m.provider, hot)

    code, out = await asyncio.to_thread(
        _run,
        tmp_path,
        "provider",
        "serve-hot",
        "--network",
        "devnet",
        "--provider",
        m.provider,
        "--hot-key",
        str(other_path),
        "--port",
        "0",
        "--slots",
        "1",
    )
    assert code != 0 and f"The hot key {other} is not authorised" in out, out
    assert "Loading" not in out  # refused before any model was loaded

    proc = _cli(
        tmp_path,
        "provider",
        "serve-hot",
        "--network",
        "devnet",
        "--provider",
        m.provider,
        "--hot-key",
        str(hot_path),
        "--port",
        "0",
        "--slots",
        "1",
    )
    try:
        endpoint = await asyncio.to_thread(_wait_for_endpoint, proc)
        consumer = ProviderClient(
            endpoint,
            LocalKey(m.user_key),
            m.provider,
            chain_id=w.devnet.chain_id,
            delegate_check=w.checker,
            read_timeout=60,
            idle_timeout=60,
        )
        approval = await consumer.request_session(m.bid_id, spend=MOR)
        assert approval.decoded.user == m.user.lower()
        open_fn = m.diamond.functions.openSession(
            m.user, MOR, False, approval.approval, approval.approval_sig
        )
        receipt = send(open_fn, m.user)
        (event,) = m.diamond.events.SessionOpened().process_receipt(receipt, errors=DISCARD)
        session_id = bytes(event.args.sessionId)
        ask = {
            "messages": [{"role": "user", "content": "Say hello."}],
            "stream": True,
            "max_tokens": 8,
            "temperature": 0,
        }
        chunks = [c async for c in consumer.prompt(session_id, ask)]
        text = "".join(
            (c["choices"][0].get("delta") or {}).get("content") or ""
            for c in chunks
            if c.get("choices")
        )
        assert text.strip(), chunks
        report, signature = await consumer.report(session_id)
        assert len(report) == 224 and len(signature) == 65
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rest, _ = await asyncio.to_thread(proc.communicate, None, 60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 0, rest


def _wait_for_endpoint(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        lines.append(line)
        found = re.search(r"Serving \S+ at (\S+:\d+) for provider", line)
        if found:
            return found.group(1)
    raise AssertionError("serve-hot never started:\n" + "".join(lines))
