"""Garbage is freed on the GUI thread only (``app.ui.main_thread_gc``), so a window or loop
caught in a reference cycle is never destroyed by a worker thread, where Qt cannot stop its
timers (their next event would reach freed memory: a crash)."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QTimer

from app.ui.main_thread_gc import MainThreadCollector, collect_due


class _Cycle:
    """An object in a reference cycle that owns a running Qt timer, as a closed window's wrapper
    can be."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.start(3_600_000)
        self.me = self


def _allocate_in_a_worker(kept: list[object]) -> None:
    """Enough container objects, made by a worker thread, to fill the youngest generation
    several times over (kept, so the count stays up until the GUI thread looks)."""

    def churn() -> None:
        kept.extend([i] for i in range(20 * gc.get_threshold()[0]))

    worker = threading.Thread(target=churn)
    worker.start()
    worker.join()


@pytest.fixture
def automatic_gc() -> Iterator[None]:
    """Automatic collection on, as Python starts (the suite runs with it off): put back after."""
    was_enabled = gc.isenabled()
    gc.enable()
    yield
    if not was_enabled:
        gc.disable()


def test_a_cycle_with_a_qt_timer_is_freed_on_the_gui_thread_not_in_a_worker(
    qapp, qtbot, qtlog, automatic_gc
):
    collector = MainThreadCollector(interval_ms=10)  # must take over from Python's own
    collector.start()
    try:
        gc.collect()
        freed_in: list[str] = []
        cycle = _Cycle()
        cycle.timer.destroyed.connect(lambda: freed_in.append(threading.current_thread().name))
        alive = weakref.ref(cycle)
        del cycle
        kept: list[object] = []
        _allocate_in_a_worker(kept)
        assert alive() is not None, "the worker thread collected it"
        qtbot.waitUntil(lambda: alive() is None, timeout=5000)
        assert freed_in == [threading.main_thread().name]
        del kept
    finally:
        collector.stop()
    assert not [r for r in qtlog.records if "Timers cannot be stopped" in r.message]


def test_stopping_gives_collection_back_to_python(qapp, automatic_gc):
    collector = MainThreadCollector()
    collector.start()
    assert not gc.isenabled()
    collector.stop()
    assert gc.isenabled()


def test_collect_due_follows_the_thresholds():
    gc.collect()
    assert collect_due() == 0  # nothing allocated since: nothing due
    for _ in range(3):
        a: list[object] = []
        a.append(a)
    del a
    keep = [[i] for i in range(2 * gc.get_threshold()[0])]
    assert collect_due() >= 3  # the youngest generation is full: the cycles go
    del keep
