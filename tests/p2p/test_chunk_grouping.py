"""A provider groups the tokens that arrive close together into one chunk (fewer signatures and
encryptions per token on both sides), without ever holding a token back: the first goes out at
once, the rest at the latest when the interval ends, and the end of the answer flushes them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from app.inference.types import (
    ChatMessage,
    ChatRequest,
    CompletionDone,
    CompletionMetrics,
    InferenceError,
    StreamEvent,
    TokenDelta,
)
from app.p2p.errors import ProviderRejected
from app.p2p.keys import LocalKey
from app.p2p.provider_server import ProviderServer
from app.p2p.remote_engine import RemoteSessionEngine, estimate_tokens
from tests.p2p.conftest import BID, SESSION, FakeChain, Node

HI = {"messages": [{"role": "user", "content": "hi"}], "stream": True}
FAIL = object()
DEADLINE_S = 10.0  # only reached when a chunk never comes: the failure this file guards against


class ScriptedEngine:
    """Yields each token when the test feeds it; ``None`` ends the answer, ``FAIL`` fails it."""

    def __init__(self) -> None:
        self.feed: asyncio.Queue[Any] = asyncio.Queue()

    async def model_names(self) -> list[str]:
        return ["fake"]

    async def chat_stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        n = 0
        while (item := await self.feed.get()) is not None:
            if item is FAIL:
                raise InferenceError("the model ran out of memory")
            n += 1
            yield TokenDelta(item)
        yield CompletionDone(CompletionMetrics(3, n, 1.0, 100.0, "stop"))


@pytest.fixture
def engine() -> ScriptedEngine:
    """Replaces the conftest's engine, so its ``make_node`` serves this one."""
    return ScriptedEngine()


@pytest.fixture
async def start_node(
    make_node: Callable[..., ProviderServer], chain: FakeChain, engine: ScriptedEngine
) -> AsyncIterator[Callable[[int], Awaitable[Node]]]:
    servers: list[ProviderServer] = []

    async def start(interval_ms: int) -> Node:
        server = make_node(stream_interval_ms=interval_ms)
        await server.start()
        servers.append(server)
        return Node(server, server.events, chain, engine)  # type: ignore[attr-defined,arg-type]

    yield start
    for server in servers:
        await server.stop()


async def _open(node: Node, consumer: LocalKey) -> AsyncIterator[Any]:
    client = node.client(consumer)
    await client.request_session(BID, spend=10**18)
    node.chain.open_session(SESSION, consumer.address)
    return client.prompt(SESSION, HI)


async def _next_text(chunks: AsyncIterator[Any]) -> str:
    chunk = await asyncio.wait_for(anext(chunks), DEADLINE_S)
    return str(chunk["choices"][0]["delta"].get("content", ""))


async def test_tokens_close_together_share_a_chunk_and_none_waits_for_the_next(
    start_node: Callable[[int], Awaitable[Node]], engine: ScriptedEngine, consumer: LocalKey
) -> None:
    node = await start_node(200)
    chunks = await _open(node, consumer)
    engine.feed.put_nowait(" The")
    assert await _next_text(chunks) == " The"  # the first token is not held back
    for token in (" cat", " sat", " down"):
        engine.feed.put_nowait(token)
    # nothing more comes from the engine: the timer must send them, together
    assert await _next_text(chunks) == " cat sat down"
    engine.feed.put_nowait(None)
    final = await asyncio.wait_for(anext(chunks), DEADLINE_S)
    assert final["choices"][0]["finish_reason"] == "stop"
    assert final["usage_from_provider"]["completion_tokens"] == 4  # tokens, not chunks
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(chunks), DEADLINE_S)


async def test_the_end_of_the_answer_sends_what_is_held_at_once(
    start_node: Callable[[int], Awaitable[Node]], engine: ScriptedEngine, consumer: LocalKey
) -> None:
    node = await start_node(600_000)  # a timer that would never fire within the test
    chunks = await _open(node, consumer)
    engine.feed.put_nowait("Hello")
    assert await _next_text(chunks) == "Hello"
    for item in (",", " world", None):
        engine.feed.put_nowait(item)
    assert await _next_text(chunks) == ", world"
    final = await asyncio.wait_for(anext(chunks), DEADLINE_S)
    assert final["choices"][0]["finish_reason"] == "stop"


async def test_text_decoded_before_a_failure_still_arrives_then_the_error(
    start_node: Callable[[int], Awaitable[Node]], engine: ScriptedEngine, consumer: LocalKey
) -> None:
    node = await start_node(600_000)
    chunks = await _open(node, consumer)
    engine.feed.put_nowait("One")
    assert await _next_text(chunks) == "One"
    for item in (" two", " three", FAIL):
        engine.feed.put_nowait(item)
    assert await _next_text(chunks) == " two three"
    with pytest.raises(ProviderRejected, match="ran out of memory"):
        await asyncio.wait_for(anext(chunks), DEADLINE_S)


async def test_interval_zero_sends_one_chunk_per_token_like_go(
    start_node: Callable[[int], Awaitable[Node]], engine: ScriptedEngine, consumer: LocalKey
) -> None:
    node = await start_node(0)
    chunks = await _open(node, consumer)
    for item in ("a", "b", "c", None):
        engine.feed.put_nowait(item)
    assert [await _next_text(chunks) for _ in range(3)] == ["a", "b", "c"]


async def test_remote_engine_counts_grouped_tokens_for_the_live_speed(
    start_node: Callable[[int], Awaitable[Node]], engine: ScriptedEngine, consumer: LocalKey
) -> None:
    node = await start_node(600_000)
    client = node.client(consumer)
    await client.request_session(BID, spend=10**18)
    node.chain.open_session(SESSION, consumer.address)
    remote = RemoteSessionEngine(client, SESSION)
    for item in (" The", " cat", " sat", ".", None):
        engine.feed.put_nowait(item)
    request = ChatRequest((ChatMessage("user", "hi"),))
    events = [ev async for ev in remote.chat_stream(request)]
    deltas = [ev for ev in events if isinstance(ev, TokenDelta)]
    assert "".join(d.text for d in deltas) == " The cat sat."
    assert sum(d.tokens for d in deltas) == 4  # what the speed line counts while streaming
    done = events[-1]
    assert isinstance(done, CompletionDone) and done.metrics.completion_tokens == 4


def test_token_estimate_is_exact_for_one_word_chunks() -> None:
    assert [estimate_tokens(t) for t in (" the", " understanding", ".", "\n\n", "")] == [
        1,
        1,
        1,
        1,
        1,
    ]
    assert estimate_tokens(" the cat sat.") == 4
