"""The asyncio loop on Qt: qasync's, with every callback run as the running loop's.

qasync marks itself as the running loop only inside ``run_forever``, yet Qt also dispatches its
callbacks elsewhere: the last pass of ``run_until_complete`` (between launch's "quit requested"
and its shutdown), and any ``processEvents()`` made between two runs (pytest-qt makes one after
every test). A task step run there found no running loop, so ``asyncio.timeout`` or
``create_task`` raised ``RuntimeError`` in the middle of the step (the chain watch, a job
runner, the earnings-cap check), and a coroutine created just before, such as aiohttp's request
body writer, was left "never awaited".

A task's step that comes due while another task's step runs a nested Qt event loop waits for
that step to end (asyncio cannot enter one task inside another; the wake-up was lost and the
task hung).

Closing also destroys the loop's timer object at once, on the loop's own thread. qasync keeps
the Qt timers of callbacks still pending at close registered, and leaves its timer object to the
garbage collector, which may run in any thread (a worker finishing a job): Qt cannot unregister
timers from another thread, so the next timer event went to freed memory and crashed the program.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import Any

import qasync

NESTED_RETRY_S = 0.005


class QtEventLoop(qasync.QEventLoop):  # type: ignore[misc]
    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any,
                   context: Any = None) -> asyncio.Handle:
        if asyncio.iscoroutinefunction(callback):
            raise TypeError("coroutines cannot be used with call_later")
        if not callable(callback):
            raise TypeError(f"callback must be callable: {type(callback).__name__}")
        # The context is kept here too, so a deferred task step (below) runs in the same one.
        ctx = context if context is not None else contextvars.copy_context()
        handle: asyncio.Handle = super().call_later(
            delay, self._as_running, ctx, callback, *args, context=ctx)
        return handle

    def close(self) -> None:
        was_open = not self.is_closed()
        super().close()
        if was_open:
            import shiboken6

            shiboken6.delete(self._timer)  # here, on its thread: its timers go with it

    def _add_callback(self, handle: asyncio.Handle, delay: float = 0) -> asyncio.Handle:
        self._check_closed()  # as asyncio's own loops: nothing is scheduled on a closed loop
        return super()._add_callback(handle, delay)  # type: ignore[no-any-return]

    def _as_running(self, ctx: contextvars.Context, callback: Callable[..., Any],
                    *args: Any) -> Any:
        if (isinstance(getattr(callback, "__self__", None), asyncio.Task)
                and asyncio.current_task(self) is not None):
            # A task step that ran a nested Qt event loop (a modal dialog, qtbot.waitUntil) is
            # still on the stack: asyncio refuses to enter another task now, and that task
            # would never be woken again. Its step runs once the nested loop has ended.
            self.call_later(NESTED_RETRY_S, callback, *args, context=ctx)
            return None
        if asyncio.events._get_running_loop() is self:
            return callback(*args)
        asyncio.events._set_running_loop(self)
        try:
            return callback(*args)
        finally:
            asyncio.events._set_running_loop(None)
