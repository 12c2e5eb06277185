"""Embeddings prompts over MOR-RPC in the Go node's format, answered by the real SmolLM2 engine
over real TCP: the consumer gets one vector per text, a Go consumer's request shape works, and
the provider's answer is the one sorted-key embeddings object a Go consumer decodes."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from app.inference.embedding import Embeddings
from app.inference.engine import LocalEngine
from app.p2p.consumer_client import ProviderClient
from app.p2p.errors import ProviderRejected
from app.p2p.keys import LocalKey
from app.p2p.ports import BidInfo
from app.p2p.provider_server import ProviderConfig, ProviderServer
from app.p2p.provider_types import PromptServed, ProviderEvent
from tests.api.local_engine import SMOL_NAME, smol_engine
from tests.p2p.conftest import (
    BID,
    CHAIN_ID,
    CONSUMER_SECRET,
    PROVIDER_SECRET,
    SESSION,
    TEST_LIMITS,
    FakeChain,
)

__all__ = ["smol_engine"]
pytestmark = pytest.mark.asyncio(loop_scope="module")
TEXTS = [
    "The cat sat on the mat.",
    "A kitten is sitting on a rug.",
    "Quarterly tax filings are due in April.",
]


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


class Served:
    def __init__(self, server: ProviderServer, events: list[ProviderEvent]) -> None:
        self.server, self.events = server, events
        self.consumer = LocalKey.from_hex(CONSUMER_SECRET)

    def client(self) -> ProviderClient:
        return ProviderClient(
            self.server.endpoint,
            self.consumer,
            self.server.key.address,
            chain_id=CHAIN_ID,
            read_timeout=60,
            idle_timeout=60,
        )


@pytest_asyncio.fixture(loop_scope="module")
async def served(smol_engine: LocalEngine) -> AsyncIterator[Served]:
    provider = LocalKey.from_hex(PROVIDER_SECRET)
    chain = FakeChain()
    chain.bids[BID] = BidInfo(BID, provider.address, bytes(32), 10**12)
    events: list[ProviderEvent] = []
    config = ProviderConfig(chain_id=CHAIN_ID, model_name=SMOL_NAME, limits=TEST_LIMITS)
    server = ProviderServer(provider, chain, smol_engine, config, on_event=events.append)
    async with server:
        s = Served(server, events)
        await s.client().request_session(BID, spend=1)
        chain.open_session(SESSION, s.consumer.address)
        yield s


async def test_embeddings_over_p2p_from_the_real_engine(served: Served) -> None:
    vectors = await served.client().embeddings(SESSION, TEXTS)
    assert len(vectors) == 3 and len({len(v) for v in vectors}) == 1 and len(vectors[0]) >= 64
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1.0) < 1e-3 for v in vectors)
    assert _cosine(vectors[0], vectors[1]) > _cosine(vectors[0], vectors[2])
    # the same vectors as the engine gives directly
    direct = await served.server.engine.embed(TEXTS)  # type: ignore[attr-defined]
    assert max(abs(x - y) for x, y in zip(vectors[0], direct.vectors[0], strict=True)) < 1e-5
    [event] = [e for e in served.events if isinstance(e, PromptServed)][-1:]
    assert event.prompt_tokens > 0 and event.completion_tokens == 0 and event.completed


async def test_a_go_consumers_request_gets_go_s_response_shape(served: Served) -> None:
    # what the Go consumer's SendEmbeddings marshals: go-openai's EmbeddingRequest + "type"
    request = {
        "input": "hello there",
        "model": "text-embedding-3-small",
        "type": "embeddings",
        "user": "",
        "encoding_format": "float",
    }
    chunks = [c async for c in served.client().prompt(SESSION, request)]
    assert len(chunks) == 1  # one chunk, then the consumer stops (no "[DONE]" follows)
    answer = chunks[0]
    assert list(answer) == ["data", "model", "object", "usage"]  # Go's sorted map keys
    assert answer["object"] == "list" and answer["model"] == SMOL_NAME
    [item] = answer["data"]
    assert list(item) == ["embedding", "index", "object"] and item["index"] == 0
    assert item["object"] == "embedding" and all(isinstance(x, float) for x in item["embedding"])
    usage = answer["usage"]
    assert usage["prompt_tokens"] == usage["total_tokens"] > 0


async def test_bad_embeddings_input_is_refused_and_chat_still_works(served: Served) -> None:
    client = served.client()
    with pytest.raises(ProviderRejected, match="input must be a text"):
        await client.embeddings(SESSION, [])  # type: ignore[arg-type]
    with pytest.raises(ProviderRejected, match="input must be a text"):
        async for _ in client.prompt(SESSION, {"type": "embeddings", "input": [[1, 2, 3]]}):
            pass
    ask = {"messages": [{"role": "user", "content": "Say hi."}], "stream": True, "max_tokens": 4}
    chunks = [c async for c in client.prompt(SESSION, ask)]
    text = "".join((c["choices"][0].get("delta") or {}).get("content") or "" for c in chunks)
    assert text.strip()


class _WideEngine:
    """Embeds with very wide vectors (a big model's), to reach the one-message size bound."""

    async def model_names(self) -> list[str]:
        return ["wide"]

    async def chat_stream(self, request: object) -> AsyncIterator[object]:
        raise AssertionError("not a chat test")
        yield  # pragma: no cover

    async def embed(self, texts: list[str]) -> Embeddings:
        return Embeddings([[0.123456789] * 8192 for _ in texts], len(texts))


async def test_an_answer_too_big_for_one_message_is_a_signed_error() -> None:
    provider, consumer = LocalKey.from_hex(PROVIDER_SECRET), LocalKey.from_hex(CONSUMER_SECRET)
    chain = FakeChain()
    chain.bids[BID] = BidInfo(BID, provider.address, bytes(32), 10**12)
    config = ProviderConfig(chain_id=CHAIN_ID, model_name="wide", limits=TEST_LIMITS)
    async with ProviderServer(provider, chain, _WideEngine(), config) as server:  # type: ignore[arg-type]
        client = ProviderClient(server.endpoint, consumer, provider.address, chain_id=CHAIN_ID)
        await client.request_session(BID, spend=1)
        chain.open_session(SESSION, consumer.address)
        assert len(await client.embeddings(SESSION, ["a", "b"])) == 2
        with pytest.raises(ProviderRejected, match="send fewer texts"):
            await client.embeddings(SESSION, ["x"] * 40)
