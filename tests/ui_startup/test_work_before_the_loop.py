"""The launch paints its first page before the asyncio loop exists (app.ui.first_paint): work a
page starts in that moment (the Chat page's model list refresh, a page's first load) must run
once the loop does, not be dropped."""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import QApplication

from app.ui import first_paint
from app.ui.ops import Op
from app.ui.qt_loop import QtEventLoop


def test_work_started_while_the_first_page_paints_runs_once_the_loop_runs():
    app = QApplication.instance() or QApplication([])
    done: list[str] = []

    async def load() -> None:
        done.append("loaded")

    first_paint.hold()
    try:
        assert Op(load()).run() is None  # no loop yet: nothing runs, nothing is lost
        assert done == []
        loop = QtEventLoop(app)
        try:
            loop.call_soon(first_paint.release)  # what the launcher does on the loop's first turn

            async def until_loaded() -> None:
                for _ in range(200):
                    if done:
                        return
                    await asyncio.sleep(0.01)

            loop.run_until_complete(until_loaded())
        finally:
            loop.close()
    finally:
        first_paint.abandon()
    assert done == ["loaded"]



def test_work_waiting_for_a_launch_that_ends_before_its_paint_is_closed_not_leaked():
    """Quit before the first paint: the waiting coroutine is closed (no "never awaited")."""
    import inspect

    ran: list[str] = []

    async def load() -> None:
        ran.append("loaded")

    coro = load()
    first_paint.hold()
    try:
        assert Op(coro).run() is None
    finally:
        first_paint.abandon()
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED and ran == []
    first_paint.after_first_paint(lambda: ran.append("now"))  # no launch: runs at once again
    assert ran == ["now"]
