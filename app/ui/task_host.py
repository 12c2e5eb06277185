"""The older way pages ran coroutines, kept for the pages not yet on :mod:`app.ui.ops`
(``share_page``, ``settings_page``): new code uses ``Op`` / ``OpHost``."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from PySide6.QtWidgets import QLabel

from app.ui.ops import OpHost, _live_loop, error_label, show_error

T = TypeVar("T")


class TaskHost(OpHost):
    """``OpHost`` whose ``spawn`` always gives a task, as it always did: with no running loop the
    work waits on the thread's loop."""

    def spawn(self, coro: Coroutine[Any, Any, T], errors: QLabel | None = None, *,
              keep_running: bool = False,
              loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Task[T | None]:
        loop = loop or _live_loop() or asyncio.get_event_loop()
        task = super().spawn(coro, errors, keep_running=keep_running, loop=loop)
        assert task is not None  # a loop was given
        return task


__all__ = ["TaskHost", "error_label", "show_error"]
