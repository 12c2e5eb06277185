"""Hypothesis throws raw bytes, random envelopes and mutated copies of a genuine signed prompt at
one running provider. Whatever arrives: no crash, no inference beyond the genuine prompt, and
the server still answers a good client afterwards."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.p2p.consumer_client import ProviderClient
from app.p2p.keys import LocalKey
from app.p2p.ports import BidInfo
from app.p2p.provider_server import ProviderConfig, ProviderLimits, ProviderServer
from tests.p2p.conftest import (
    BID,
    CHAIN_ID,
    CONSUMER_SECRET,
    PROVIDER_SECRET,
    SESSION,
    TEST_LIMITS,
    CountingEngine,
    FakeChain,
)
from tests.p2p.test_adversarial import prompt_bytes

PING = b'{"id":"0","method":"network.ping","params":{"nonce":"0x01","signature":"0x01"}}'


@dataclass
class Running:
    server: ProviderServer
    engine: CountingEngine
    port: int
    genuine: bytes
    loop: asyncio.AbstractEventLoop


def talk(port: int, data: bytes) -> list[Any]:
    """Blocking exchange on a plain socket: send, half-close, read all replies until close."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            raw = b""
            while chunk := sock.recv(65536):
                raw += chunk
        except ConnectionResetError:
            return []
    text, out, pos = raw.decode(), [], 0
    decoder = json.JSONDecoder()
    while pos < len(text):
        value, pos = decoder.raw_decode(text, pos)
        out.append(value)
    return out


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    provider, consumer = LocalKey.from_hex(PROVIDER_SECRET), LocalKey.from_hex(CONSUMER_SECRET)
    chain = FakeChain()
    chain.bids[BID] = BidInfo(BID, provider.address, bytes(32), 1)
    chain.open_session(SESSION, consumer.address)
    engine = CountingEngine()
    limits = ProviderLimits(**{**TEST_LIMITS.__dict__, "rate_burst": 100_000})
    server = ProviderServer(provider, chain, engine, ProviderConfig(CHAIN_ID, limits=limits))

    async def setup() -> None:
        await server.start()

    asyncio.run_coroutine_threadsafe(setup(), loop).result(10)
    client = ProviderClient(server.endpoint, consumer, provider.address, chain_id=CHAIN_ID)
    asyncio.run_coroutine_threadsafe(client.request_session(BID, 1), loop).result(10)
    genuine = prompt_bytes(consumer)
    replies = talk(server.port, genuine)
    assert "error" not in replies[-1] and engine.calls == 1  # the genuine prompt, consumed once
    yield Running(server, engine, server.port, genuine, loop)
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def check_after(r: Running, replies: list[Any]) -> None:
    assert r.engine.calls == 1, "inference ran for an unauthenticated request"
    for reply in replies:
        assert isinstance(reply, dict) and isinstance(reply.get("id"), str)
        if reply.get("error") is not None:
            assert reply["result"] is None
            assert reply["error"]["data"]["signature"] == "0x00"
    assert "result" in talk(r.port, PING)[0]


FUZZ = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
methods = st.sampled_from(
    ["network.ping", "session.request", "session.prompt", "session.report", "x"]
) | st.text(max_size=15)


@FUZZ
@given(data=st.binary(max_size=400))
def test_raw_bytes(running: Running, data: bytes) -> None:
    check_after(running, talk(running.port, data))


@FUZZ
@given(
    request_id=st.one_of(st.text(max_size=8), st.integers(), st.none()),
    method=methods,
    params=json_values,
)
def test_random_envelopes(running: Running, request_id: Any, method: str, params: Any) -> None:
    payload = json.dumps({"id": request_id, "method": method, "params": params}).encode()
    check_after(running, talk(running.port, payload))


@FUZZ
@given(data=st.data())
def test_mutated_genuine_prompt(running: Running, data: st.DataObject) -> None:
    genuine = running.genuine
    pos = data.draw(st.integers(0, len(genuine) - 1))
    if data.draw(st.booleans()):
        payload = genuine[:pos]  # truncated
    else:
        payload = genuine[:pos] + bytes([data.draw(st.integers(0, 255))]) + genuine[pos + 1 :]
    check_after(running, talk(running.port, payload))
