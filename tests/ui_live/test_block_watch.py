"""The chain watcher's pace: quick while the window is watched, slow while hidden, and a window
shown again ends the slow wait at once (no stale numbers for up to half a minute)."""

from __future__ import annotations

import asyncio

from app.services.block_watch import WatchPace


async def test_hidden_waits_long_and_showing_wakes_it_at_once() -> None:
    pace = WatchPace(watched_s=0.05, hidden_s=60.0)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await asyncio.wait_for(pace.wait(), 5)  # watched: a short pause
    assert loop.time() - start < 5

    pace.set_watched(False)
    assert pace.interval == 60.0
    waiting = asyncio.ensure_future(pace.wait())
    await asyncio.sleep(0)  # let it start waiting (a turn of the loop, not a timing guess)
    assert not waiting.done()
    pace.set_watched(True)  # the window shows again
    await asyncio.wait_for(waiting, 5)
    assert pace.interval == 0.05
