"""Hostile and broken clients: every bad request gets an error reply or a closed connection, the
server keeps serving good clients, and the engine never runs for an unauthenticated request."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable

import pytest

from app.p2p import gojson
from app.p2p.consumer_client import ProviderClient
from app.p2p.crypto import keccak256
from app.p2p.errors import ProviderRejected
from app.p2p.framing import JsonStreamReader
from app.p2p.gojson import PromptParams, ReportParams, SessionRequestParams, encode_request
from app.p2p.keys import LocalKey
from app.p2p.provider_server import ProviderLimits, ProviderServer
from tests.p2p.conftest import (
    BID,
    CHAIN_ID,
    FOREIGN_BID,
    SESSION,
    TEST_LIMITS,
    TOKENS,
    FakeChain,
    Node,
)

HI = json.dumps({"messages": [{"role": "user", "content": "hi"}], "stream": True})


async def exchange(port: int, data: bytes, *, half_close: bool = True, timeout: float = 5) -> list:
    """Send raw bytes, read every reply until the server closes; [] means closed without reply."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    if half_close:
        writer.write_eof()
    try:
        raw = await asyncio.wait_for(reader.read(), timeout)
    except ConnectionResetError:  # closed with our bytes unread (e.g. an oversized message)
        raw = b""
    writer.close()
    values = []
    framed = JsonStreamReader(_fed(raw))
    while True:
        try:
            values.append(await framed.read_value())
        except EOFError:
            return values


async def dropped(reader: asyncio.StreamReader) -> bool:
    """The server closed on us without a reply (a reset counts: it may close with bytes unread)."""
    try:
        return await asyncio.wait_for(reader.read(), 3) == b""
    except ConnectionResetError:
        return True


def _fed(raw: bytes) -> asyncio.StreamReader:
    r = asyncio.StreamReader()
    r.feed_data(raw)
    r.feed_eof()
    return r


def prompt_bytes(
    key: LocalKey,
    session: bytes = SESSION,
    *,
    message: str = HI,
    ts: int | None = None,
    request_id: str = "abcd0001",
) -> bytes:
    ts = int(time.time() * 1000) if ts is None else ts
    unsigned = PromptParams(session, message, ts)
    sig = key.sign_raw_hash(keccak256(unsigned.signed_bytes()))
    return encode_request(request_id, "session.prompt", PromptParams(session, message, ts, sig))


def session_request_bytes(
    key: LocalKey, *, user: str | None = None, bid: bytes = BID, ts: int | None = None
) -> bytes:
    ts = int(time.time() * 1000) if ts is None else ts
    unsigned = SessionRequestParams(user or key.address, key.public_key_uncompressed, 1, ts, bid)
    sig = key.sign_raw_hash(keccak256(unsigned.signed_bytes()))
    return encode_request(
        "req1",
        "session.request",
        SessionRequestParams(unsigned.user, unsigned.key, 1, ts, bid, sig),
    )


def error_of(replies: list) -> str:
    assert len(replies) == 1, replies
    assert replies[0]["result"] is None
    assert replies[0]["error"]["data"]["signature"] == "0x00"
    return str(replies[0]["error"]["message"])


async def assert_still_serving(node: Node, key: LocalKey) -> None:
    pong = await node.client(key).ping()
    assert pong.version


async def register(node: Node, key: LocalKey) -> None:
    await node.client(key).request_session(BID, spend=1)


# ---------------------------------------------------------------- by hand


@pytest.mark.parametrize(
    "payload",
    [
        b'{"id":"1","method":"session.prompt","params":{"sessionid":"0x22',  # truncated
        b"\x00\xff garbage \x80",
        b'{"id":7,"method":"network.ping","params":{"nonce":"0x01","signature":"0x01"}}',
        b"[]",
        b'"just a string"',
    ],
    ids=["truncated", "garbage", "numeric-id", "array", "string"],
)
async def test_unreadable_requests_are_dropped(
    node: Node, consumer: LocalKey, payload: bytes
) -> None:
    await register(node, consumer)
    node.chain.open_session(SESSION, consumer.address)
    assert await exchange(node.server.port, payload) == []
    assert node.server.stats.dropped_bad_input == 1
    await assert_still_serving(node, consumer)
    assert node.engine.calls == 0


async def test_oversized_request_gets_an_error_reply_not_a_silent_close(
    node: Node, consumer: LocalKey
) -> None:
    """A Go node has no size limit, so a Go peer must learn why we stopped reading."""
    big = b'{"id":"1","method":"session.prompt","params":{"message":"' + b"x" * 70_000 + b'"}}'
    assert "message exceeds" in error_of(await exchange(node.server.port, big))
    assert node.server.stats.dropped_bad_input == 1
    await assert_still_serving(node, consumer)
    assert node.engine.calls == 0


async def test_unknown_method(node: Node, consumer: LocalKey) -> None:
    replies = await exchange(node.server.port, b'{"id":"9","method":"foo.bar","params":{}}')
    assert replies[0]["id"] == "9"
    assert error_of(replies) == "unknown method: unknown method: foo.bar"


async def test_wrong_signature(node: Node, consumer: LocalKey, other: LocalKey) -> None:
    await register(node, consumer)
    node.chain.open_session(SESSION, consumer.address)
    forged = prompt_bytes(other)  # other key (never approved), consumer's session
    # the signer is recovered before any chain read: a key we never approved is unknown
    assert error_of(await exchange(node.server.port, forged)) == "user not found"
    assert node.chain.session_lookups == 0
    bad_hex = forged.replace(b'"signature":"0x', b'"signature":"0xzz')
    assert "invalid request" in error_of(await exchange(node.server.port, bad_hex))
    assert node.engine.calls == 0
    await assert_still_serving(node, consumer)


async def test_session_of_another_user(node: Node, consumer: LocalKey, other: LocalKey) -> None:
    await register(node, consumer)
    await register(node, other)  # other is a known, paying user too
    node.chain.open_session(SESSION, consumer.address)
    replies = await exchange(node.server.port, prompt_bytes(other))
    assert error_of(replies) == "invalid signature"
    # other cannot swap in its key for the consumer's address either
    hijack = session_request_bytes(other, user=consumer.address)
    assert error_of(await exchange(node.server.port, hijack)) == "key does not belong to user"
    assert node.engine.calls == 0
    assert await exchange(node.server.port, prompt_bytes(consumer)) != []
    assert node.engine.calls == 1


async def test_replayed_prompt(node: Node, consumer: LocalKey) -> None:
    await register(node, consumer)
    node.chain.open_session(SESSION, consumer.address)
    original = prompt_bytes(consumer)
    first = await exchange(node.server.port, original)
    assert len(first) == len(TOKENS) + 2 and "error" not in first[-1]
    assert error_of(await exchange(node.server.port, original)) == "replayed request"
    # flipping v keeps the signature valid for Go's verifier; it is still the same request
    params = json.loads(original)["params"]
    sig = bytearray(bytes.fromhex(params["signature"][2:]))
    sig[64] ^= 1
    params["signature"] = "0x" + sig.hex()
    resent = gojson.go_json_bytes({"id": "other-id", "method": "session.prompt", "params": params})
    assert error_of(await exchange(node.server.port, resent)) == "replayed request"
    assert node.engine.calls == 1


async def test_stale_and_future_timestamps_with_an_opt_in_window(
    make_node: Callable[..., ProviderServer], chain: FakeChain, consumer: LocalKey
) -> None:
    limits = ProviderLimits(**{**TEST_LIMITS.__dict__, "timestamp_window_ms": 5 * 60_000})
    async with make_node(limits) as server:
        node = Node(server, [], chain, server.engine)  # type: ignore[arg-type]
        await register(node, consumer)
        node.chain.open_session(SESSION, consumer.address)
        now = int(time.time() * 1000)
        for ts in (now - 10 * 60_000, now + 10 * 60_000):
            replies = await exchange(server.port, prompt_bytes(consumer, ts=ts))
            assert error_of(replies) == "request timestamp out of range"
            stale_req = session_request_bytes(consumer, ts=ts)
            assert error_of(await exchange(server.port, stale_req)) == (
                "request timestamp out of range"
            )
        assert node.engine.calls == 0


async def test_a_consumer_with_a_wrong_clock_is_served_once_like_go(
    node: Node, consumer: LocalKey
) -> None:
    """Go providers have no timestamp window; replays are still refused by the signature cache."""
    node.chain.open_session(SESSION, consumer.address)
    now = int(time.time() * 1000)
    late = session_request_bytes(consumer, ts=now - 3 * 3600_000)
    assert "result" in (await exchange(node.server.port, late))[0]
    behind = prompt_bytes(consumer, ts=now - 2 * 3600_000)
    assert len(await exchange(node.server.port, behind)) == len(TOKENS) + 2
    assert error_of(await exchange(node.server.port, behind)) == "replayed request"
    assert node.engine.calls == 1


async def test_expired_closed_unknown_and_foreign_sessions(node: Node, consumer: LocalKey) -> None:
    await register(node, consumer)
    expired, closed, foreign = (bytes([i]) * 32 for i in (0x41, 0x42, 0x43))
    node.chain.open_session(expired, consumer.address, ttl=-5)
    node.chain.open_session(closed, consumer.address, closed_at=int(time.time()) - 1)
    node.chain.open_session(foreign, consumer.address, bid=FOREIGN_BID)
    port = node.server.port
    assert error_of(await exchange(port, prompt_bytes(consumer, expired))) == "session expired"
    assert error_of(await exchange(port, prompt_bytes(consumer, closed))) == "session closed"
    assert error_of(await exchange(port, prompt_bytes(consumer, foreign))) == "session not found"
    unknown = bytes([0x44]) * 32
    assert error_of(await exchange(port, prompt_bytes(consumer, unknown))) == "session not found"
    assert node.engine.calls == 0


async def test_user_without_handshake_and_bad_bids(
    node: Node, consumer: LocalKey, other: LocalKey
) -> None:
    node.chain.open_session(SESSION, consumer.address)
    port = node.server.port
    assert error_of(await exchange(port, prompt_bytes(consumer))) == "user not found"
    foreign = session_request_bytes(consumer, bid=FOREIGN_BID)
    assert error_of(await exchange(port, foreign)) == "bid not found"
    missing = session_request_bytes(consumer, bid=b"\x99" * 32)
    assert error_of(await exchange(port, missing)) == "bid not found"
    assert node.engine.calls == 0


async def test_bad_inference_payload_is_refused_before_the_engine(
    node: Node, consumer: LocalKey
) -> None:
    await register(node, consumer)
    node.chain.open_session(SESSION, consumer.address)
    for message in (
        "not json",
        '{"messages":[]}',
        '{"messages":[{"role":"x"}]}',
        "[" * 50_000,  # deep inside the prompt's own JSON: refused, never recursed into
    ):
        replies = await exchange(node.server.port, prompt_bytes(consumer, message=message))
        assert error_of(replies).startswith("invalid inference request")
    assert node.engine.calls == 0


async def test_report_needs_the_session_users_signature(
    node: Node, consumer: LocalKey, other: LocalKey
) -> None:
    await register(node, consumer)
    await register(node, other)
    node.chain.open_session(SESSION, consumer.address)
    ts = int(time.time() * 1000)
    unsigned = ReportParams("0x" + SESSION.hex(), ts)
    sig = other.sign_raw_hash(keccak256(unsigned.signed_bytes()))
    payload = encode_request("r", "session.report", ReportParams(unsigned.message, ts, sig))
    assert error_of(await exchange(node.server.port, payload)) == "invalid signature"
    receipt, _ = await node.client(consumer).report(SESSION)
    assert len(receipt) == 224


# ---------------------------------------------------------------- resource limits


async def test_silent_and_slow_clients_are_dropped_while_others_are_served(
    make_node: Callable[..., ProviderServer], consumer: LocalKey
) -> None:
    limits = ProviderLimits(
        **{**TEST_LIMITS.__dict__, "read_timeout_s": 0.6, "idle_timeout_s": 0.3}
    )
    async with make_node(limits) as server:
        node = Node(server, [], server.lookup, server.engine)  # type: ignore[arg-type]
        silent_r, silent_w = await asyncio.open_connection("127.0.0.1", server.port)
        slow_r, slow_w = await asyncio.open_connection("127.0.0.1", server.port)
        started = time.monotonic()

        async def slow_loris() -> None:
            slow_w.write(b'{"id":"1","method":"network.ping","params":{"nonce":"')
            while True:  # one byte well inside every idle gap, never finishing the message
                await asyncio.sleep(0.1)
                slow_w.write(b"a")

        loris = asyncio.create_task(slow_loris())
        await assert_still_serving(node, consumer)
        assert await dropped(silent_r)
        assert await dropped(slow_r)
        elapsed = time.monotonic() - started
        loris.cancel()
        for w in (silent_w, slow_w):
            w.close()
        assert elapsed < 2.5
        assert server.stats.dropped_bad_input == 2


async def test_rate_limit_per_ip(
    make_node: Callable[..., ProviderServer], consumer: LocalKey
) -> None:
    limits = ProviderLimits(**{**TEST_LIMITS.__dict__, "rate_per_s": 0.01, "rate_burst": 3})
    async with make_node(limits) as server:
        ping = b'{"id":"0","method":"network.ping","params":{"nonce":"0x01","signature":"0x01"}}'
        for _ in range(3):
            assert "result" in (await exchange(server.port, ping))[0]
        assert error_of(await exchange(server.port, ping)) == "rate limit exceeded"
        assert server.stats.refused_rate == 1
        # our consumer shows it as the refusal it is, not as a provider that cannot be trusted
        client = Node(server, [], server.lookup, server.engine).client(consumer)  # type: ignore[arg-type]
        with pytest.raises(ProviderRejected, match="rate limit exceeded"):
            await client.ping()


async def test_connection_cap(make_node: Callable[..., ProviderServer], consumer: LocalKey) -> None:
    limits = ProviderLimits(
        **{
            **TEST_LIMITS.__dict__,
            "max_connections": 2,
            "idle_timeout_s": 5.0,
            "read_timeout_s": 5.0,
        }
    )
    async with make_node(limits) as server:
        held = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(2)]
        while server._open_connections < 2:
            await asyncio.sleep(0.01)
        # refused at once: a close, or a reset if our bytes were still unread
        with contextlib.suppress(ConnectionResetError):
            assert await exchange(server.port, b'{"id":"0"}') == []
        assert server.stats.refused_busy == 1
        for _, w in held:
            w.close()
        while server._open_connections:
            await asyncio.sleep(0.01)
        node = Node(server, [], server.lookup, server.engine)  # type: ignore[arg-type]
        await assert_still_serving(node, consumer)


async def test_session_capacity(
    make_node: Callable[..., ProviderServer], chain: FakeChain, consumer: LocalKey, other: LocalKey
) -> None:
    limits = ProviderLimits(**{**TEST_LIMITS.__dict__, "max_sessions": 1})
    async with make_node(limits) as server:
        port = server.port
        first = await exchange(port, session_request_bytes(consumer))
        assert "result" in first[0]
        # an approval reserves nothing (throwaway keys could fill the node): other is approved too
        assert "result" in (await exchange(port, session_request_bytes(other)))[0]
        again = await exchange(port, session_request_bytes(consumer))  # a retry is not a new one
        assert "result" in again[0]
        # the approval turns into a live session, which holds the only slot ...
        chain.open_session(SESSION, consumer.address)
        assert len(await exchange(port, prompt_bytes(consumer))) == len(TOKENS) + 2
        assert error_of(await exchange(port, session_request_bytes(other))) == "no capacity"
        # ... until its receipt is issued and the consumer closes it
        client = ProviderClient(server.endpoint, consumer, server.key.address, chain_id=CHAIN_ID)
        await client.report(SESSION)
        assert "result" in (await exchange(port, session_request_bytes(other)))[0]
