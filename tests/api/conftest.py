"""Shared fixtures for the API tests: one real SmolLM2 engine per test session, and a fresh
ApiServer on a free loopback port per test (cheap: it only binds a socket)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from app.api.router import EngineRouter
from app.api.server import ApiServer
from app.inference.types import ChatEngine
from tests.api.llama_engine import MODEL_NAME, make_test_engine

API_KEY = "mor-test-key-0123456789abcdef"


@pytest.fixture(scope="session")
def real_engine() -> Iterator[ChatEngine]:
    engine, close = make_test_engine()
    yield engine
    close()


@pytest.fixture
def router(real_engine: ChatEngine) -> EngineRouter:
    r = EngineRouter()
    r.register(MODEL_NAME, real_engine)
    return r


@pytest.fixture
async def api(router: EngineRouter) -> AsyncIterator[ApiServer]:
    server = ApiServer(router, API_KEY, max_body_bytes=64 * 1024)
    await server.start()
    yield server
    await server.stop()
