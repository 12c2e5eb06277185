"""Provider server and consumer client over loopback TCP: the whole session lifecycle."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from app.inference.types import ChatMessage, ChatRequest, CompletionDone, InferenceError, TokenDelta
from app.p2p import crypto
from app.p2p.consumer_client import ProviderClient, self_signed_receipt
from app.p2p.errors import ProviderMisbehaved, ProviderRejected, ProviderUnreachable
from app.p2p.keys import LocalKey
from app.p2p.provider_server import (
    ApprovalIssued,
    PromptServed,
    ProviderConfig,
    ProviderServer,
    ReceiptIssued,
)
from app.p2p.remote_engine import RemoteSessionEngine
from tests.p2p.conftest import (
    BID,
    CHAIN_ID,
    SESSION,
    TEST_LIMITS,
    TOKENS,
    CountingEngine,
    FakeChain,
    Node,
)

HI = {"messages": [{"role": "user", "content": "hi"}], "stream": True}


async def _collect(client: ProviderClient, session: bytes, request: dict) -> list[dict]:
    return [c async for c in client.prompt(session, request)]


def _text(chunks: list[dict]) -> str:
    return "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)


async def test_ping_proves_the_provider_key(
    node: Node, consumer: LocalKey, other: LocalKey
) -> None:
    pong = await node.client(consumer).ping()
    assert pong.version == node.server.config.version
    assert crypto.address_from_pubkey(pong.provider_key) == node.server.key.address
    with pytest.raises(ProviderMisbehaved):
        await node.client(consumer, provider_address=other.address).ping()


async def test_full_session_lifecycle(node: Node, consumer: LocalKey) -> None:
    client = node.client(consumer)
    before = int(time.time())
    approval = await client.request_session(BID, spend=10**18)
    assert approval.decoded.bid_id == BID
    assert approval.decoded.chain_id == CHAIN_ID
    assert approval.decoded.user == consumer.address
    assert before <= approval.decoded.timestamp <= int(time.time())  # seconds: contract TTL on
    assert (
        crypto.recover_eip191_signer(crypto.keccak256(approval.approval), approval.approval_sig)
        == node.server.key.address
    )
    assert isinstance(node.events[0], ApprovalIssued)

    node.chain.open_session(SESSION, consumer.address)  # what openSession does on chain
    chunks = await _collect(client, SESSION, HI)
    assert _text(chunks) == "".join(TOKENS)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage_from_provider"] == {
        "completion_tokens": 5,
        "prompt_tokens": 7,
        "total_tokens": 12,
    }
    assert all(c["model"] == "fake" and c["object"] == "chat.completion.chunk" for c in chunks)
    assert node.engine.calls == 1

    await _collect(client, SESSION, HI)
    receipt_bytes, signature = await client.report(SESSION)
    receipt = crypto.Receipt.decode(receipt_bytes)
    assert len(receipt_bytes) == 224
    assert (receipt.session_id, receipt.chain_id) == (SESSION, CHAIN_ID)
    assert (receipt.input_tokens, receipt.output_tokens) == (14, 10)
    assert receipt.tps_scaled1000 > 0
    assert abs(receipt.timestamp - time.time()) < 5
    assert crypto.recover_eip191_signer(crypto.keccak256(receipt_bytes), signature) == (
        node.server.key.address
    )
    served = [e for e in node.events if isinstance(e, PromptServed)]
    assert [(e.session_id, e.user, e.completion_tokens, e.completed) for e in served] == [
        (SESSION, consumer.address, 5, True)
    ] * 2
    assert isinstance(node.events[-1], ReceiptIssued)


async def test_remote_session_engine_behaves_like_a_local_engine(
    node: Node, consumer: LocalKey
) -> None:
    client = node.client(consumer)
    await client.request_session(BID, spend=1)
    node.chain.open_session(SESSION, consumer.address)
    engine = RemoteSessionEngine(client, SESSION, "remote-model")
    request = ChatRequest((ChatMessage("user", "hi"),))
    events = [e async for e in engine.chat_stream(request)]
    assert [e.text for e in events if isinstance(e, TokenDelta)] == list(TOKENS)
    done = events[-1]
    assert isinstance(done, CompletionDone)
    assert (done.metrics.prompt_tokens, done.metrics.completion_tokens) == (7, 5)
    assert done.metrics.ttft_ms >= 0 and done.metrics.finish_reason == "stop"
    assert await engine.model_names() == ["remote-model"]


async def test_non_streamed_request_and_max_tokens(node: Node, consumer: LocalKey) -> None:
    client = node.client(consumer)
    await client.request_session(BID, spend=1)
    node.chain.open_session(SESSION, consumer.address)
    full = await _collect(client, SESSION, {"messages": [{"role": "user", "content": "x"}]})
    assert len(full) == 1 and full[0]["object"] == "chat.completion"
    assert full[0]["choices"][0]["message"]["content"] == "".join(TOKENS)
    short = await _collect(client, SESSION, {**HI, "max_tokens": 2})
    assert _text(short) == "".join(TOKENS[:2])
    assert short[-1]["choices"][0]["finish_reason"] == "length"


async def test_one_request_at_a_time_per_session(
    node: Node, consumer: LocalKey, other: LocalKey
) -> None:
    c1, c2 = node.client(consumer), node.client(other)
    await c1.request_session(BID, spend=1)
    await c2.request_session(BID, spend=1)
    other_session = bytes.fromhex("33" * 32)
    node.chain.open_session(SESSION, consumer.address)
    node.chain.open_session(other_session, other.address)
    node.engine.gate = asyncio.Event()
    same = [asyncio.create_task(_collect(c1, SESSION, HI)) for _ in range(2)]
    await node.engine.started.wait()
    parallel = asyncio.create_task(_collect(c2, other_session, HI))
    while node.engine.calls < 2:  # the other session starts while the first one is held
        await asyncio.sleep(0.01)
    assert node.engine.active == 2  # one per session: the second prompt of SESSION waits
    node.engine.gate.set()
    results = await asyncio.gather(*same, parallel)
    assert all(_text(r) == "".join(TOKENS) for r in results)
    assert node.engine.max_active == 2 and node.engine.calls == 3


async def test_backend_error_is_encrypted_and_reported(node: Node, consumer: LocalKey) -> None:
    client = node.client(consumer)
    await client.request_session(BID, spend=1)
    node.chain.open_session(SESSION, consumer.address)
    node.engine.fail_with = InferenceError("model out of memory")
    with pytest.raises(ProviderRejected, match="model out of memory"):
        await _collect(client, SESSION, HI)


async def test_client_leaving_mid_stream_stops_generation(node: Node, consumer: LocalKey) -> None:
    client = node.client(consumer)
    await client.request_session(BID, spend=1)
    node.chain.open_session(SESSION, consumer.address)
    node.engine.gate = asyncio.Event()
    stream = client.prompt(SESSION, HI)
    first = await stream.__anext__()
    assert first["choices"][0]["delta"]["content"] == TOKENS[0]
    await stream.aclose()  # consumer hangs up
    node.engine.gate.set()
    while node.engine.closed < 1:
        await asyncio.sleep(0.01)
    assert node.engine.active == 0
    node.engine.gate = None
    assert _text(await _collect(client, SESSION, HI)) == "".join(TOKENS)


async def test_millisecond_approvals_like_go(
    make_node: Callable[..., ProviderServer], consumer: LocalKey
) -> None:
    async with make_node(contract_timestamp_unit="ms") as server:
        client = ProviderClient(server.endpoint, consumer, server.key.address, chain_id=CHAIN_ID)
        approval = await client.request_session(BID, spend=1)
        assert abs(approval.decoded.timestamp - time.time() * 1000) < 5000


async def test_consumer_rejects_an_impostor(
    make_node: Callable[..., ProviderServer], consumer: LocalKey, other: LocalKey
) -> None:
    """A node answering at the endpoint with another key is not trusted (approval or pong)."""
    async with make_node() as server:
        client = ProviderClient(server.endpoint, consumer, other.address, chain_id=CHAIN_ID)
        with pytest.raises(ProviderMisbehaved) as impostor:
            await client.request_session(BID, spend=1)
        assert "not its own" in impostor.value.reason
        wrong_chain = ProviderClient(server.endpoint, consumer, server.key.address, chain_id=1)
        with pytest.raises(ProviderMisbehaved) as info:
            await wrong_chain.request_session(BID, spend=1)
        assert "another bid or chain" in info.value.reason


async def test_unreachable_provider(consumer: LocalKey) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    client = ProviderClient(f"127.0.0.1:{port}", consumer, consumer.address, chain_id=CHAIN_ID)
    with pytest.raises(ProviderUnreachable):
        await client.ping()


def test_self_signed_receipt_is_a_user_signature(consumer: LocalKey) -> None:
    receipt, sig = self_signed_receipt(consumer, SESSION, CHAIN_ID, output_tokens=3)
    decoded = crypto.Receipt.decode(receipt)
    assert decoded.output_tokens == 3 and decoded.session_id == SESSION
    assert crypto.recover_eip191_signer(crypto.keccak256(receipt), sig) == consumer.address


def test_wallet_signer_signs_like_the_node_key(consumer: LocalKey) -> None:
    """The wallet's real signer produces the same MOR-RPC and EIP-191 bytes as ``LocalKey``."""
    from app.wallet.signer import LocalSigner
    from tests.p2p.conftest import CONSUMER_SECRET

    signer = LocalSigner(bytes.fromhex(CONSUMER_SECRET))
    digest = crypto.keccak256(b"session")
    assert signer.address.lower() == consumer.address
    assert signer.public_key_uncompressed == consumer.public_key_uncompressed
    assert signer.sign_raw_hash(digest) == consumer.sign_raw_hash(digest)
    assert signer.sign_message_hash(digest) == consumer.sign_message_hash(digest)


async def test_chain_clock_drives_contract_timestamps_and_expiry(
    provider_key: LocalKey, consumer: LocalKey, chain: FakeChain, engine: CountingEngine
) -> None:
    """After devnet time travel the chain is ahead of the wall clock: approvals carry chain time
    and a session that ended in chain time is refused, while request freshness stays wall time."""
    ahead = 10_000.0
    server = ProviderServer(
        provider_key,
        chain,
        engine,
        ProviderConfig(chain_id=CHAIN_ID, limits=TEST_LIMITS),
        chain_clock=lambda: time.time() + ahead,
    )
    async with server:
        client = ProviderClient(server.endpoint, consumer, server.key.address, chain_id=CHAIN_ID)
        approval = await client.request_session(BID, spend=1)
        assert abs(approval.decoded.timestamp - (time.time() + ahead)) < 5
        chain.open_session(SESSION, consumer.address, ttl=3600)  # ended in chain time
        with pytest.raises(ProviderRejected, match="session expired"):
            await _collect(client, SESSION, HI)
        assert engine.calls == 0


async def test_provider_restart_keeps_sessions_usable(
    make_node: Callable[..., ProviderServer], consumer: LocalKey, chain: FakeChain
) -> None:
    """A restarted provider has forgotten user keys: a preloaded key (from the ApprovalIssued
    record) or the client's automatic re-handshake keeps the paid session working."""
    async with make_node() as first:
        client = ProviderClient(first.endpoint, consumer, first.key.address, chain_id=CHAIN_ID)
        await client.request_session(BID, spend=1)
        chain.open_session(SESSION, consumer.address)
        assert _text(await _collect(client, SESSION, HI)) == "".join(TOKENS)
        issued = [e for e in first.events if isinstance(e, ApprovalIssued)]  # type: ignore[attr-defined]
    assert issued[0].user_key == consumer.public_key_uncompressed

    async with make_node() as restarted:
        client = ProviderClient(
            restarted.endpoint, consumer, restarted.key.address, chain_id=CHAIN_ID
        )
        with pytest.raises(ProviderRejected, match="user not found"):
            await _collect(client, SESSION, HI)
        engine = RemoteSessionEngine(client, SESSION, bid_id=BID)
        request = ChatRequest((ChatMessage("user", "hi"),))
        texts = [e.text async for e in engine.chat_stream(request) if isinstance(e, TokenDelta)]
        assert texts == list(TOKENS)

    preloaded = ProviderServer(
        restarted.key,
        chain,
        restarted.engine,
        ProviderConfig(chain_id=CHAIN_ID, limits=TEST_LIMITS),
        user_keys={consumer.address.upper().replace("0X", "0x"): issued[0].user_key},
    )
    async with preloaded:
        client = ProviderClient(
            preloaded.endpoint, consumer, preloaded.key.address, chain_id=CHAIN_ID
        )
        assert _text(await _collect(client, SESSION, HI)) == "".join(TOKENS)
