"""The launch's crash hooks: installed before the report dialog is imported, yet every error still
ends in that dialog, from the GUI thread, a worker thread (even as the very first error) or the
asyncio loop; uninstalling gives the old hooks back."""

from __future__ import annotations

import asyncio
import sys
import threading

import qasync

from app.ui.crash_hook import CrashHook


def test_first_error_from_a_worker_thread_reaches_the_dialog(qapp):
    hook = CrashHook()
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    old_sys, old_thread = sys.excepthook, threading.excepthook
    hook.install(loop)

    async def scenario() -> None:
        assert sys.excepthook == hook.handle_exception

        def worker() -> None:
            raise RuntimeError("from a worker thread")

        t = threading.Thread(target=worker, name="bg-worker")
        t.start()
        t.join()
        deadline = loop.time() + 5
        while hook._reporter is None or hook.reporter.dialog is None:
            assert loop.time() < deadline, "no dialog for the worker's error"
            await asyncio.sleep(0.02)
        dialog = hook.reporter.dialog
        assert "RuntimeError: from a worker thread" in dialog.report()
        assert "thread bg-worker" in dialog.report()
        assert hook.reporter.thread() is qapp.thread(), "the reporter lives in the GUI thread"

        # An error the loop reports, then one in the GUI thread: the same dialog collects both.
        loop.call_exception_handler(
            {"message": "Task exception was never retrieved", "exception": OSError("io")}
        )
        try:
            raise KeyError("gui thread")
        except KeyError:
            sys.excepthook(*sys.exc_info())  # type: ignore[arg-type]
        while "KeyError: 'gui thread'" not in dialog.report():
            assert loop.time() < deadline, dialog.report()
            await asyncio.sleep(0.02)
        assert "OSError: io" in dialog.report()
        assert "3 errors" in dialog.headline.text()
        dialog.close()

    try:
        loop.run_until_complete(scenario())
    finally:
        hook.uninstall()
        loop.close()
        asyncio.set_event_loop(None)
    assert sys.excepthook is old_sys and threading.excepthook is old_thread
