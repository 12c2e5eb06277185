"""What strangers can do to a provider, a consumer and the RPC client, end to end on loopback:
deep nesting, floods of throwaway keys, slow drips, methods we do not serve. Each is refused, the
process keeps serving, and a paying consumer's session goes on."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from aiohttp import web

from app.chain.errors import RpcUnavailable
from app.chain.rpc import RpcPool
from app.p2p.consumer_client import ProviderClient
from app.p2p.crypto import keccak256
from app.p2p.errors import ProviderMisbehaved, ProviderRejected
from app.p2p.extra_messages import GetToolsParams, StreamStartParams
from app.p2p.framing import JsonStreamReader
from app.p2p.gojson import encode_request
from app.p2p.keys import LocalKey
from app.p2p.provider_server import ProviderLimits, ProviderServer
from tests.p2p.conftest import (
    BID,
    CHAIN_ID,
    SESSION,
    TEST_LIMITS,
    TOKENS,
    FakeChain,
    Node,
    fake_provider,
)
from tests.p2p.test_adversarial import exchange, prompt_bytes, session_request_bytes

DEEP_ARRAYS = b"[" * 200_000  # 200 KB
DEEP_OBJECTS = b'{"a":' * (2 * 1024 * 1024 // 5)  # 2 MiB
HI = {"messages": [{"role": "user", "content": "hi"}], "stream": True}
ROOMY = ProviderLimits(**{**TEST_LIMITS.__dict__, "max_message_bytes": 32 << 20})


@pytest.fixture(autouse=True)
def py_ecc_recursion_limit() -> Iterator[None]:
    """py_ecc raises the limit to 100 000 at import; a recursive parser would overflow the C
    stack long before Python noticed, so every test here runs under that limit."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(100_000)
    yield
    sys.setrecursionlimit(before)


@pytest.fixture
async def roomy(
    make_node: Callable[..., ProviderServer], chain: FakeChain
) -> AsyncIterator[Node]:
    server = make_node(ROOMY)
    async with server:
        yield Node(server, server.events, chain, server.engine)  # type: ignore[attr-defined]


async def _served(node: Node, key: LocalKey, session: bytes = SESSION) -> str:
    client = node.client(key)
    await client.request_session(BID, spend=1)
    node.chain.open_session(session, key.address)
    chunks = [c async for c in client.prompt(session, HI)]
    return "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)


# ---------------------------------------------------------------- deep nesting, three readers


@pytest.mark.parametrize("payload", [DEEP_ARRAYS, DEEP_OBJECTS], ids=["200KB-of-[", "2MiB-of-{a:"])
async def test_provider_refuses_deep_nesting_and_keeps_serving(
    roomy: Node, consumer: LocalKey, payload: bytes
) -> None:
    started = time.process_time()
    replies = await exchange(roomy.server.port, payload)
    assert "nested deeper" in replies[0]["error"]["message"]
    assert time.process_time() - started < 1.0  # refused at depth 512, not after reading it all
    assert await _served(roomy, consumer) == "".join(TOKENS)
    assert roomy.engine.calls == 1


async def test_provider_refuses_a_flat_frame_of_countless_brackets(
    roomy: Node, consumer: LocalKey
) -> None:
    """Shallow but dense: 4 MiB of "[1]," would cost seconds of Python work; a frame's token
    budget refuses it within a few milliseconds of CPU."""
    started = time.process_time()
    replies = await exchange(roomy.server.port, b"[" + b"[1]," * (1 << 20) + b"[]]")
    assert "JSON tokens" in replies[0]["error"]["message"]
    assert time.process_time() - started < 1.0
    assert await _served(roomy, consumer) == "".join(TOKENS)


@pytest.mark.parametrize("payload", [DEEP_ARRAYS, DEEP_OBJECTS], ids=["200KB-of-[", "2MiB-of-{a:"])
async def test_consumer_refuses_a_provider_answering_deep_nesting(
    node: Node, consumer: LocalKey, payload: bytes
) -> None:
    async def evil(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(payload)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    async with fake_provider(evil) as endpoint:
        hostile = ProviderClient(endpoint, consumer, node.server.key.address, chain_id=CHAIN_ID)
        with pytest.raises(ProviderMisbehaved) as refused:
            await hostile.ping()
        assert "nested deeper" in refused.value.reason
    assert await _served(node, consumer) == "".join(TOKENS)  # the same process goes on


@pytest.mark.parametrize("payload", [DEEP_ARRAYS, DEEP_OBJECTS], ids=["200KB-of-[", "2MiB-of-{a:"])
async def test_rpc_client_refuses_deep_nesting_and_fails_over(payload: bytes) -> None:
    async def evil(request: web.Request) -> web.Response:
        return web.Response(body=payload, content_type="application/json")

    async def good(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"jsonrpc": "2.0", "id": body["id"], "result": "0x2a"})

    runners = []
    urls = []
    for handler in (evil, good):
        app = web.Application()
        app.router.add_post("/", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        urls.append(f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/")  # type: ignore[union-attr]
    only_evil = RpcPool(urls[:1], rounds=1)
    pool = RpcPool(urls, rounds=1)
    try:
        with pytest.raises(RpcUnavailable):
            await only_evil.request("eth_blockNumber")
        assert await pool.request("eth_blockNumber") == "0x2a"  # the next endpoint answers
        assert pool.active_url == urls[1]
    finally:
        await only_evil.close()
        await pool.close()
        for runner in runners:
            await runner.cleanup()


# ---------------------------------------------------------------- floods and drips


async def test_throwaway_keys_cannot_fill_the_node(node: Node, consumer: LocalKey) -> None:
    """100 signed session.requests from keys with no MOR: no chain session reads, no slot taken;
    their prompts cost no chain read either; then a paying consumer opens and is served."""
    port = node.server.port
    throwaway = [LocalKey.generate() for _ in range(100)]
    replies = []
    for i in range(0, 100, 10):  # ten at a time, as a busy gateway would
        batch = throwaway[i : i + 10]
        replies += await asyncio.gather(*(exchange(port, session_request_bytes(k)) for k in batch))
    assert all("result" in r[0] for r in replies)  # approvals are free to give: they hold nothing
    strangers = [LocalKey.generate() for _ in range(20)]
    for k in strangers:  # never approved: refused on the signature alone
        r = await exchange(port, prompt_bytes(k, os.urandom(32)))
        assert r[0]["error"]["message"] == "user not found"
    assert node.chain.session_lookups == 0
    assert node.engine.calls == 0
    assert await _served(node, consumer) == "".join(TOKENS)


async def test_one_ip_cannot_hold_every_connection(
    make_node: Callable[..., ProviderServer], chain: FakeChain, consumer: LocalKey
) -> None:
    limits = ProviderLimits(
        **{
            **TEST_LIMITS.__dict__,
            "max_unauthenticated_per_ip": 3,
            "idle_timeout_s": 5.0,
            "read_timeout_s": 5.0,
        }
    )
    async with make_node(limits) as server:
        held = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(3)]
        deadline = time.monotonic() + 3
        while server._unauthenticated.count("127.0.0.1") < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        with pytest.raises(Exception):  # noqa: B017 - a close or a reset, both mean "refused"
            assert await exchange(server.port, b'{"id":"0"}', timeout=2) != []
            raise ConnectionError
        for _, w in held:
            w.close()
        deadline = time.monotonic() + 3
        while server._unauthenticated.count("127.0.0.1") and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        node = Node(server, server.events, chain, server.engine)  # type: ignore[attr-defined]
        assert await _served(node, consumer) == "".join(TOKENS)


@pytest.mark.parametrize("char", ["y", '"'], ids=["plain", "all-escapes"])
async def test_slow_drip_costs_each_byte_once(char: str) -> None:
    """1 MiB sent in 256-byte pieces used to cost seconds of re-parsing; now it is one pass,
    and a string made only of escapes is skipped by one C-level match per piece."""
    message = char * (1 << 19 if char == '"' else 1 << 20)
    body = json.dumps({"id": "1", "method": "x", "params": {"message": message}}).encode()
    r = asyncio.StreamReader()
    framed = JsonStreamReader(r, max_message_bytes=2 << 20)
    started = time.process_time()
    task = asyncio.ensure_future(framed.read_value())
    for i in range(0, len(body), 256):
        r.feed_data(body[i : i + 256])
        await asyncio.sleep(0)  # the reader wakes for every piece, as on a real socket
    r.feed_eof()
    value = await task
    assert value["params"]["message"] == message
    assert time.process_time() - started < 1.0


# ---------------------------------------------------------------- what a Go peer may send


async def test_embeddings_and_tool_roles_get_a_signed_refusal(
    node: Node, consumer: LocalKey
) -> None:
    await _served(node, consumer)
    client = node.client(consumer)
    for request in (
        {"type": "embeddings", "input": "hello"},
        {"type": "audio_speech", "input": "hello"},
        {"messages": [{"role": "tool", "content": "42", "tool_call_id": "a"}]},
    ):
        with pytest.raises(ProviderRejected, match="not supported by this provider"):
            async for _ in client.prompt(SESSION, request):
                pass
    assert node.engine.calls == 1


@pytest.mark.parametrize("method", ["agent.get_tools", "session.prompt.stream.start"])
async def test_agent_and_audio_methods_get_a_signed_refusal(
    node: Node, consumer: LocalKey, other: LocalKey, method: str
) -> None:
    await _served(node, consumer)
    ts = int(time.time() * 1000)

    def request(key: LocalKey) -> bytes:
        if method == "agent.get_tools":
            unsigned: GetToolsParams | StreamStartParams = GetToolsParams(SESSION, ts)
            sig = key.sign_raw_hash(keccak256(unsigned.signed_bytes()))
            params: GetToolsParams | StreamStartParams = GetToolsParams(SESSION, ts, sig)
        else:
            unsigned = StreamStartParams(SESSION, "ab" * 16, 1, 10, "audio/wav", ts)
            sig = key.sign_raw_hash(keccak256(unsigned.signed_bytes()))
            params = StreamStartParams(SESSION, "ab" * 16, 1, 10, "audio/wav", ts, sig)
        return encode_request("t1", method, params)

    [reply] = await exchange(node.server.port, request(consumer))
    error = reply["error"]
    assert error["data"]["signature"] != "0x00"  # signed and encrypted to the user
    plain = json.loads(consumer.ecies_decrypt(bytes.fromhex(error["message"])))
    message = plain["providerModelError"]["error"]["message"]
    assert message == f"{method} is not supported by this provider"
    [stranger] = await exchange(node.server.port, request(other))  # not approved: plain error
    assert stranger["error"]["message"] == "user not found"


async def test_consumer_reads_canonical_and_unusual_chunks_alike(
    consumer: LocalKey, provider_key: LocalKey
) -> None:
    """Canonical chunks take the one-regex fast path; the same chunk written differently (key
    case, order, spacing, as Go's decoder allows) takes the generic one."""
    from app.p2p.crypto import ecies_encrypt
    from app.p2p.gojson import PromptChunk, encode_result, go_json_bytes

    def chunk(payload: object, *, odd: bool) -> bytes:
        ct = ecies_encrypt(consumer.public_key_uncompressed, go_json_bytes(payload)).hex()
        unsigned = PromptChunk(ct, 1_700_000_000_000)
        sig = provider_key.sign_raw_hash(keccak256(unsigned.signed_bytes()))
        if not odd:
            return encode_result(request_id[0], PromptChunk(ct, unsigned.timestamp, sig))
        rid, ts = request_id[0], unsigned.timestamp
        return (
            f'{{ "ID" : "{rid}", "Result": {{"TimeStamp": {ts}, "MESSAGE": "{ct}", '
            f'"signature": "0x{sig.hex()}"}}}}'
        ).encode()

    request_id = [""]
    pieces = [{"choices": [{"delta": {"content": t}, "index": 0}]} for t in ("a", "b", "c")]

    async def fake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await JsonStreamReader(reader).read_value()
        request_id[0] = request["id"]
        for i, p in enumerate(pieces):
            writer.write(chunk(p, odd=i == 1))
        writer.write(chunk("[DONE]", odd=False))
        await writer.drain()
        writer.close()

    async with fake_provider(fake) as endpoint:
        client = ProviderClient(
            endpoint,
            consumer,
            provider_key.address,
            chain_id=CHAIN_ID,
            provider_key=provider_key.public_key_uncompressed,
        )
        got = [c async for c in client.prompt(SESSION, HI)]
    assert got == pieces


async def test_a_prompt_over_one_mebibyte_is_served(roomy: Node, consumer: LocalKey) -> None:
    """Go providers have no size limit; ours used to close silently at 1 MiB."""
    client = roomy.client(consumer)
    await client.request_session(BID, spend=1)
    roomy.chain.open_session(SESSION, consumer.address)
    long = {"messages": [{"role": "user", "content": "é\"<" * 700_000}], "stream": True}
    chunks = [c async for c in client.prompt(SESSION, long)]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == "".join(TOKENS)
