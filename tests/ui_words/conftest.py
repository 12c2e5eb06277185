"""Words tests reuse the window fixtures of tests/ui (offscreen, own data folder) and, for the
states with a wallet, the devnet ones of tests/ui_share (real anvil, real SmolLM2, the program's
own services)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import warnings
from collections.abc import Iterator

import pytest

os.environ["QT_QPA_PLATFORM"] = "offscreen"

from tests.ui.conftest import home, make_window, paths  # noqa: F401  (fixtures)
from tests.ui_share.conftest import (  # noqa: F401  (fixtures and the qasync loop)
    chain_snapshot,
    devnet,
    headless_provider,
    make_gui,
    pytest_asyncio_loop_factories,
    smol_engine,
)


@pytest.fixture(autouse=True)
def _close_stray_loop(request: pytest.FixtureRequest) -> Iterator[None]:
    """A window built outside any event loop (a sync test) gets the tasks its pages start
    parked on a loop Python makes up on the spot (``asyncio.ensure_future`` with no running
    loop); close that loop after the test, its tasks cancelled, so nothing of it is left for a
    later async test's loop to trip over."""
    yield
    if request.node.get_closest_marker("asyncio") is not None:
        return
    with contextlib.suppress(RuntimeError), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        loop = asyncio.get_event_loop_policy().get_event_loop()
        if loop.is_running() or loop.is_closed():
            return
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        asyncio.set_event_loop(None)
