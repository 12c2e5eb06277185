"""Shared fixtures for the API tests: one real SmolLM2 engine per test module (it lives on the
module's event loop), and a fresh ApiServer on a free loopback port per test (it only binds a
socket)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from app.api.router import EngineRouter
from app.api.server import ApiServer
from app.inference.engine import LocalEngine
from tests.api.local_engine import MODEL_NAME, started_engine

API_KEY = "mor-test-key-0123456789abcdef"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def real_engine() -> AsyncIterator[LocalEngine]:
    async with started_engine() as engine:
        yield engine


@pytest_asyncio.fixture(loop_scope="module")
async def router(real_engine: LocalEngine) -> EngineRouter:
    r = EngineRouter()
    r.register(MODEL_NAME, real_engine)
    return r


@pytest_asyncio.fixture(loop_scope="module")
async def api(router: EngineRouter) -> AsyncIterator[ApiServer]:
    server = ApiServer(router, API_KEY, max_body_bytes=64 * 1024)
    await server.start()
    yield server
    await server.stop()
