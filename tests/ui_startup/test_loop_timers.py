"""The asyncio loop's callback timers (app.ui.qt_loop.CallbackTimer) are Qt basic timers, which
Qt does not unregister when their object is deleted: a loop dropped with callbacks pending (a test's
loop, garbage-collected without close()) crashed the whole process with a segfault when the timer
fired. Run in a child process, since the failure is a crash."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.ui.conftest import REPO_ROOT, subprocess_env

CHILD = """
    import asyncio, gc, sys, time
    import shiboken6
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from app.ui.qt_loop import CallbackTimer

    other = asyncio.new_event_loop()
    ran = []
    timers = CallbackTimer()
    timers.add_callback(asyncio.Handle(lambda: ran.append("ran"), (), other), 0.02)
    if sys.argv[1] == "deleted":
        kept_alive = timers._pending  # what a reference cycle does while the object goes
        shiboken6.delete(timers)
    else:
        timers.cycle = timers
        del timers
        gc.collect()
    end = time.monotonic() + 0.2
    while time.monotonic() < end:
        app.processEvents()
    print("survived", ",".join(ran) or "-")
    other.close()
"""


@pytest.mark.parametrize("how", ["deleted", "collected"])
def test_timers_of_a_deleted_loop_timer_object_never_fire(tmp_path, how):
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CHILD), how],
        cwd=REPO_ROOT,
        env=subprocess_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"the process crashed ({proc.returncode}): {proc.stderr}"
    assert proc.stdout.strip() == "survived -"  # nothing of a deleted object ran, nothing crashed
