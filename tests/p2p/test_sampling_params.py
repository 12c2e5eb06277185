"""The consumer's sampling settings reach the provider's engine unchanged.

A user who sets repeat penalty 1.0 or top-k 5 gets them on a remote provider as on the local
engine (they travel under llama.cpp's names; a Go consumer sends neither and gets the provider's
defaults). Until this was fixed the provider ran every remote answer with its own default
penalty, a different answer from the one the same settings give locally.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from app.inference.types import (
    ChatMessage,
    ChatRequest,
    CompletionDone,
    CompletionMetrics,
    SamplingParams,
    StreamEvent,
    TokenDelta,
)
from app.p2p.consumer_client import ProviderClient
from app.p2p.errors import ProviderRejected
from app.p2p.keys import LocalKey
from app.p2p.openai_codec import InvalidInferenceRequest, parse_chat_request
from app.p2p.provider_server import ProviderConfig, ProviderServer
from app.p2p.remote_engine import RemoteSessionEngine
from tests.p2p.conftest import BID, CHAIN_ID, SESSION, TEST_LIMITS, FakeChain


class RecordingEngine:
    """Answers one token and keeps the requests it was given."""

    def __init__(self) -> None:
        self.requests: list[ChatRequest] = []

    async def model_names(self) -> list[str]:
        return ["recording"]

    async def chat_stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        self.requests.append(request)
        yield TokenDelta("ok")
        yield CompletionDone(CompletionMetrics(3, 1, 1.0, 1.0, "stop"))


@pytest.fixture
async def served(
    chain: FakeChain, provider_key: LocalKey, consumer: LocalKey
) -> AsyncIterator[tuple[ProviderClient, RecordingEngine]]:
    """A provider on loopback with the consumer's session open on the (fake) chain."""
    engine = RecordingEngine()
    server = ProviderServer(
        provider_key, chain, engine, ProviderConfig(CHAIN_ID, limits=TEST_LIMITS)
    )
    await server.start()
    try:
        client = ProviderClient(server.endpoint, consumer, provider_key.address, chain_id=CHAIN_ID)
        await client.request_session(BID, spend=10**18)
        chain.open_session(SESSION, consumer.address)
        yield client, engine
    finally:
        await server.stop()


async def test_remote_answer_uses_the_consumers_sampling(
    served: tuple[ProviderClient, RecordingEngine],
) -> None:
    client, engine = served
    params = SamplingParams(
        max_tokens=64,
        temperature=0.3,
        top_p=0.9,
        top_k=5,
        repeat_penalty=1.0,
        frequency_penalty=0.5,
        presence_penalty=-0.25,
        stop=("END",),
        seed=7,
    )
    request = ChatRequest((ChatMessage("user", "hi"),), params)
    text = [
        ev.text
        async for ev in RemoteSessionEngine(client, SESSION).chat_stream(request)
        if isinstance(ev, TokenDelta)
    ]
    assert text == ["ok"]
    assert engine.requests[-1].params == params


def test_a_go_consumers_request_gets_the_providers_defaults() -> None:
    go_request = {"messages": [{"role": "user", "content": "hi"}], "stream": True}
    chat, _ = parse_chat_request(go_request, model="m", max_tokens_cap=100)
    assert chat.params.top_k == SamplingParams.top_k
    assert chat.params.repeat_penalty == SamplingParams.repeat_penalty
    assert chat.params.frequency_penalty == chat.params.presence_penalty == 0.0
    with_nulls = {**go_request, "top_k": None, "repeat_penalty": None, "presence_penalty": None}
    assert parse_chat_request(with_nulls, model="m", max_tokens_cap=100)[0] == chat


def test_a_go_consumers_openai_penalties_are_used() -> None:
    go_request = {
        "messages": [{"role": "user", "content": "hi"}],
        "frequency_penalty": 0.75,
        "presence_penalty": -1,
    }
    chat, _ = parse_chat_request(go_request, model="m", max_tokens_cap=100)
    assert (chat.params.frequency_penalty, chat.params.presence_penalty) == (0.75, -1.0)


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("top_k", -1, "top_k"),
        ("top_k", 2.5, "top_k"),
        ("top_k", True, "top_k"),
        ("repeat_penalty", 0, "above 0"),
        ("repeat_penalty", 9, "repeat_penalty"),
        ("repeat_penalty", "1.1", "repeat_penalty"),
        ("frequency_penalty", 2.5, "frequency_penalty"),
        ("presence_penalty", "0.1", "presence_penalty"),
    ],
)
def test_bad_sampling_values_are_refused_with_a_reason(
    field: str, value: object, needle: str
) -> None:
    request = {"messages": [{"role": "user", "content": "hi"}], field: value}
    with pytest.raises(InvalidInferenceRequest, match=needle):
        parse_chat_request(json.loads(json.dumps(request)), model="m", max_tokens_cap=100)


async def test_a_bad_value_is_refused_before_any_inference(
    served: tuple[ProviderClient, RecordingEngine],
) -> None:
    client, engine = served
    bad = {"messages": [{"role": "user", "content": "hi"}], "stream": True, "top_k": -3}
    with pytest.raises(ProviderRejected, match="top_k"):
        [c async for c in client.prompt(SESSION, bad)]
    assert engine.requests == []
