"""Chat page tests run their coroutines on a qasync loop — the loop the program itself runs on —
so Qt signals and asyncio tasks interleave exactly as in the app. One real SmolLM2 engine per
test module lives on that loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from app.inference.engine import LocalEngine
from tests.api.local_engine import started_engine
from tests.qt_async import qt_event_loop


def pytest_asyncio_loop_factories(config: Any, item: Any) -> dict[str, Any]:
    return {"qasync": qt_event_loop}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def real_engine() -> AsyncIterator[LocalEngine]:
    async with started_engine() as engine:
        yield engine
