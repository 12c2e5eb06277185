"""The asyncio loop on Qt: qasync's, with every callback run as the running loop's.

qasync marks itself as the running loop only inside ``run_forever``, yet Qt also dispatches its
callbacks elsewhere: the last pass of ``run_until_complete`` (between launch's "quit requested"
and its shutdown), and any ``processEvents()`` made between two runs (pytest-qt makes one after
every test). A task step run there found no running loop, so ``asyncio.timeout`` or
``create_task`` raised ``RuntimeError`` in the middle of the step (the chain watch, a job
runner, the earnings-cap check), and a coroutine created just before, such as aiohttp's request
body writer, was left "never awaited".

The loop's callbacks are timed by :class:`CallbackTimer` rather than qasync's own timer object:
that one ends each timer with ``QObject.killTimer``, whose overload on ``Qt.TimerId`` makes
PySide6 build every ``Qt`` enum (~25 ms) on the first callback, before the first page paints.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import qasync
from PySide6.QtCore import QBasicTimer, QObject, QTimerEvent

log = logging.getLogger(__name__)


class CallbackTimer(QObject):
    """Runs each asyncio handle once, after its delay, on Qt's timers (one QBasicTimer each)."""

    def __init__(self) -> None:
        super().__init__()
        pending: dict[int, tuple[QBasicTimer, asyncio.Handle]] = {}
        self._pending = pending
        self._stopped = False
        self._debug = False
        # A QBasicTimer is not unregistered when its object is deleted (only QObject.startTimer's
        # are): one left running would deliver its event to freed memory and crash the process
        # (a loop garbage-collected without close()). Stop them as the object goes; the slot
        # holds the dict, not ``self``, whose wrapper is being torn down by then.
        self.destroyed.connect(lambda *_: _stop_all(pending))

    def add_callback(self, handle: asyncio.Handle, delay: float = 0) -> asyncio.Handle:
        timer = QBasicTimer()
        timer.start(int(max(0.0, delay) * 1000), self)
        self._pending[timer.timerId()] = (timer, handle)
        return handle

    def timerEvent(self, event: QTimerEvent) -> None:  # Qt names it so
        entry = self._pending.pop(event.timerId(), None)
        if entry is None:
            return
        timer, handle = entry
        timer.stop()
        if self._stopped or handle.cancelled():
            return
        if not self._debug:
            handle._run()
            return
        start = time.monotonic()
        handle._run()
        took = time.monotonic() - start
        loop = asyncio.get_event_loop()
        if took >= loop.slow_callback_duration:
            log.warning("Executing %r took %.3f seconds", handle, took)

    def stop(self) -> None:
        """The loop closed: nothing pending runs any more."""
        self._stopped = True
        _stop_all(self._pending)

    def set_debug(self, enabled: bool) -> None:
        self._debug = enabled


def _stop_all(pending: dict[int, tuple[QBasicTimer, asyncio.Handle]]) -> None:
    for timer, _handle in pending.values():
        timer.stop()
    pending.clear()


class QtEventLoop(qasync.QEventLoop):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer = CallbackTimer()

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any,
                   context: Any = None) -> asyncio.Handle:
        if asyncio.iscoroutinefunction(callback):
            raise TypeError("coroutines cannot be used with call_later")
        if not callable(callback):
            raise TypeError(f"callback must be callable: {type(callback).__name__}")
        handle: asyncio.Handle = super().call_later(
            delay, self._as_running, callback, *args, context=context)
        return handle

    def _as_running(self, callback: Callable[..., Any], *args: Any) -> Any:
        if asyncio.events._get_running_loop() is self:
            return callback(*args)
        asyncio.events._set_running_loop(self)
        try:
            return callback(*args)
        finally:
            asyncio.events._set_running_loop(None)
