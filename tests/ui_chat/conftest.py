"""Chat page fixtures: the real devnet with two real providers serving the real SmolLM2 (from
``tests/ui_remote``), one SmolLM2 engine on the qasync loop the program runs on, and helpers to
wait for Qt signals without nested event loops."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from tests.api.local_engine import smol_engine  # noqa: F401  (fixture)
from tests.devnet_fixture import chain_snapshot, devnet  # noqa: F401  (fixtures)
from tests.qt_async import qt_event_loop
from tests.ui_remote.conftest import gui, providers  # noqa: F401  (fixtures)


def pytest_asyncio_loop_factories(config: Any, item: Any) -> dict[str, Any]:
    return {"qasync": qt_event_loop}


def next_emission(signal: Any) -> asyncio.Future[Any]:
    """A future resolved by the next emission of a Qt ``signal`` (await it: no polling)."""
    fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def slot(*args: Any) -> None:
        if not fut.done():
            fut.set_result(args[0] if args else None)
        signal.disconnect(slot)

    signal.connect(slot)
    return fut


async def until(condition: Any, signal: Any, deadline: float) -> None:
    """Wait until ``condition()`` holds, re-checking at each emission of ``signal``, failing at
    ``deadline`` (a ``time.monotonic()`` value)."""
    while not condition():
        left = deadline - time.monotonic()
        assert left > 0, "condition not met before the deadline"
        fut = next_emission(signal)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(fut), min(left, 0.25))
