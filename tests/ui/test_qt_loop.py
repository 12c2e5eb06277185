"""The program's asyncio loop on Qt (``app.ui.qt_loop``): closing it leaves nothing for the
garbage collector to free in the wrong thread."""

from __future__ import annotations

import asyncio
import gc
import threading

import pytest

from app.ui.qt_loop import QtEventLoop


def test_a_closed_loop_freed_from_a_worker_thread_leaves_no_timer_behind(qapp, qtlog):
    """A callback still pending when the loop closes (a retry an hour away) must not leave a Qt
    timer registered: the collector may free the loop in any thread, Qt cannot unregister timers
    from there, and the timer's event would later reach freed memory (a crash)."""
    gc.collect()  # earlier tests' garbage goes here, on the main thread; only the loop is left
    loop = QtEventLoop(qapp)
    loop.call_later(3600, lambda: None)
    loop.close()
    holder: dict[str, object] = {"loop": loop}
    holder["self"] = holder  # a cycle: only the garbage collector frees it
    del loop, holder

    worker = threading.Thread(target=gc.collect)  # as when a worker thread's allocation collects
    worker.start()
    worker.join()
    qapp.processEvents()

    warnings = [r.message for r in qtlog.records if "Timers cannot be stopped" in r.message]
    assert warnings == []


def test_a_closed_loop_refuses_new_callbacks(qapp):
    loop = QtEventLoop(qapp)
    loop.close()
    with pytest.raises(RuntimeError, match="closed"):
        loop.call_later(1, lambda: None)
    with pytest.raises(RuntimeError, match="closed"):
        loop.call_soon(lambda: None)


def test_the_loop_still_runs_timed_callbacks(qapp):
    loop = QtEventLoop(qapp)
    try:
        ran: list[str] = []

        async def main() -> None:
            loop.call_later(0.01, ran.append, "later")
            await asyncio.sleep(0.05)

        loop.run_until_complete(main())
        assert ran == ["later"]
    finally:
        loop.close()


def test_a_task_woken_during_a_nested_qt_loop_is_not_lost(qapp):
    """A coroutine step that runs a nested Qt event loop (a modal dialog, ``qtbot.waitUntil``)
    while another task's awaited result arrives: that task's wake-up must wait for the step to
    end, not run inside it (asyncio refuses to enter a task while another one runs) and be lost."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QtEventLoop(qapp)
    try:
        async def main() -> str:
            waiting = loop.create_future()

            async def other() -> str:
                return await waiting

            task = loop.create_task(other())
            await asyncio.sleep(0)  # `other` now waits for the future
            nested = QEventLoop()
            waiting.set_result("woken")  # its wake-up is due while the nested loop runs
            QTimer.singleShot(50, nested.quit)
            nested.exec()
            return await asyncio.wait_for(task, 5)

        assert loop.run_until_complete(main()) == "woken"
    finally:
        loop.close()
