"""Shared parts of the MOR-RPC tests: Appendix B keys, an in-memory chain, a counting engine.

The engine is deliberately fake (fixed tokens, a call counter) so the protocol tests can prove
"no inference ran" and compare exact text; the real-model end to end is an integration test.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from app.inference.types import (
    ChatRequest,
    CompletionDone,
    CompletionMetrics,
    InferenceError,
    StreamEvent,
    TokenDelta,
)
from app.p2p.consumer_client import ProviderClient
from app.p2p.keys import LocalKey
from app.p2p.ports import BidInfo, SessionInfo
from app.p2p.provider_server import ProviderConfig, ProviderEvent, ProviderLimits, ProviderServer

CONSUMER_SECRET = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
PROVIDER_SECRET = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
OTHER_SECRET = "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
CHAIN_ID = 31337
BID = bytes.fromhex("11" * 32)
FOREIGN_BID = bytes.fromhex("12" * 32)
SESSION = bytes.fromhex("22" * 32)
TOKENS = ("Hello", ",", " world", "!", " <&>")


class CountingEngine:
    """Yields ``TOKENS`` (or ``max_tokens`` of them); counts calls and the most concurrent ones."""

    def __init__(self) -> None:
        self.calls = 0
        self.active = 0
        self.max_active = 0
        self.gate: asyncio.Event | None = None  # when set, generation waits on it after 1 token
        self.started = asyncio.Event()
        self.fail_with: InferenceError | None = None
        self.closed = 0

    async def model_names(self) -> list[str]:
        return ["fake"]

    async def chat_stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        self.calls += 1
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        self.started.set()
        try:
            if self.fail_with is not None:
                raise self.fail_with
            n = min(request.params.max_tokens, len(TOKENS))
            for i, tok in enumerate(TOKENS[:n]):
                yield TokenDelta(tok)
                if i == 0 and self.gate is not None:
                    await self.gate.wait()
                await asyncio.sleep(0)
            finish = "length" if n < len(TOKENS) else "stop"
            yield CompletionDone(CompletionMetrics(7, n, 1.0, 100.0, finish))
        finally:
            self.active -= 1
            self.closed += 1


@dataclass
class FakeChain:
    """Answers ``SessionLookup`` from dicts; ``session_lookups`` counts chain reads."""

    sessions: dict[bytes, SessionInfo] = field(default_factory=dict)
    bids: dict[bytes, BidInfo] = field(default_factory=dict)
    session_lookups: int = 0

    async def get_session(self, session_id: bytes) -> SessionInfo | None:
        self.session_lookups += 1
        return self.sessions.get(session_id)

    async def get_bid(self, bid_id: bytes) -> BidInfo | None:
        return self.bids.get(bid_id)

    def open_session(
        self, session_id: bytes, user: str, *, bid: bytes = BID, ttl: int = 3600, closed_at: int = 0
    ) -> None:
        self.sessions[session_id] = SessionInfo(
            session_id, user.lower(), bid, int(time.time()) + ttl, closed_at
        )


@pytest.fixture
def consumer() -> LocalKey:
    return LocalKey.from_hex(CONSUMER_SECRET)


@pytest.fixture
def provider_key() -> LocalKey:
    return LocalKey.from_hex(PROVIDER_SECRET)


@pytest.fixture
def other() -> LocalKey:
    return LocalKey.from_hex(OTHER_SECRET)


@pytest.fixture
def chain(provider_key: LocalKey, other: LocalKey) -> FakeChain:
    c = FakeChain()
    c.bids[BID] = BidInfo(BID, provider_key.address, bytes(32), 10**12)
    c.bids[FOREIGN_BID] = BidInfo(FOREIGN_BID, other.address, bytes(32), 10**12)
    return c


@pytest.fixture
def engine() -> CountingEngine:
    return CountingEngine()


TEST_LIMITS = ProviderLimits(
    read_timeout_s=2.0,
    idle_timeout_s=0.5,
    write_timeout_s=2.0,
    max_connections=16,
    max_sessions=4,
    rate_per_s=1000.0,
    rate_burst=1000,
    max_message_bytes=64 * 1024,
)


@dataclass
class Node:
    server: ProviderServer
    events: list[ProviderEvent]
    chain: FakeChain
    engine: CountingEngine

    def client(self, key: LocalKey, provider_address: str | None = None) -> ProviderClient:
        return ProviderClient(
            self.server.endpoint,
            key,
            provider_address or self.server.key.address,
            chain_id=CHAIN_ID,
            read_timeout=5.0,
            idle_timeout=5.0,
        )


@pytest.fixture
def make_node(
    provider_key: LocalKey, chain: FakeChain, engine: CountingEngine
) -> Callable[..., ProviderServer]:
    def make(limits: ProviderLimits = TEST_LIMITS, **config: object) -> ProviderServer:
        # one chunk per token unless a test asks otherwise: the wire checks below compare
        # chunk by chunk with what a Go provider sends (grouping: test_chunk_grouping.py)
        config.setdefault("stream_interval_ms", 0)
        events: list[ProviderEvent] = []
        server = ProviderServer(
            provider_key,
            chain,
            engine,
            ProviderConfig(chain_id=CHAIN_ID, model_name="fake", limits=limits, **config),  # type: ignore[arg-type]
            on_event=events.append,
        )
        server.events = events  # type: ignore[attr-defined]
        return server

    return make


@pytest.fixture
async def node(
    make_node: Callable[..., ProviderServer], chain: FakeChain, engine: CountingEngine
) -> AsyncIterator[Node]:
    server = make_node()
    async with server:
        yield Node(server, server.events, chain, engine)  # type: ignore[attr-defined]


@contextlib.asynccontextmanager
async def fake_provider(
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[str]:
    """A stand-in provider on loopback answering each connection with ``handle``; yields its
    endpoint."""
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()
