"""How often the chain watcher asks for the block number: every couple of seconds while someone
looks at the window, rarely while it is hidden (the program may run in the tray for hours: it
should not ask a public node every two seconds for a height nobody sees).

Background payments keep their own watch (``app.services.supervisor``); this only paces the
status bar's height and the pages' "a new block: refresh your balances" event.
"""

from __future__ import annotations

import asyncio

WATCHED_S = 2.0
HIDDEN_S = 30.0


class WatchPace:
    """``await pace.wait()`` between two reads: ``watched_s`` while watched, else ``hidden_s``;
    becoming watched again ends the current wait at once (a window shown gets fresh numbers)."""

    def __init__(self, watched_s: float = WATCHED_S, hidden_s: float = HIDDEN_S) -> None:
        self.watched_s = watched_s
        self.hidden_s = hidden_s
        self.watched = True
        self._wake = asyncio.Event()

    def set_watched(self, watched: bool) -> None:
        was, self.watched = self.watched, watched
        if watched and not was:
            self._wake.set()

    @property
    def interval(self) -> float:
        return self.watched_s if self.watched else self.hidden_s

    async def wait(self) -> None:
        self._wake.clear()
        timer = asyncio.get_running_loop().call_later(self.interval, self._wake.set)
        try:
            await self._wake.wait()
        finally:
            timer.cancel()
