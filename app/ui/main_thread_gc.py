"""Python's cyclic garbage collection, run on the GUI thread only.

Why: Python collects cycles in whichever thread happens to allocate when a generation fills up,
worker threads included (the password KDF, the keyring, the engine's start checks). A window,
dialog or event loop caught in a reference cycle was then destroyed in that thread, where Qt
cannot stop the timers its QObjects own: the timers stayed registered with the GUI thread, and
their next event reached freed memory (a crash). The launcher switches automatic collection
off and runs the same generational policy from a timer on the GUI thread instead.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

CHECK_MS = 1000


def collect_due() -> int:
    """Collect the generations CPython's own thresholds say are due, here and now; the number
    of unreachable objects found."""
    counts, thresholds = gc.get_count(), gc.get_threshold()
    if counts[0] <= thresholds[0]:
        return 0
    # As CPython decides when an allocation fills the youngest generation: the oldest generation
    # over its threshold is collected with all younger ones (without CPython's extra condition
    # for a full collection, so those come a little more often).
    due = next((g for g in (2, 1) if counts[g] > thresholds[g]), 0)
    return gc.collect(due)


class MainThreadCollector(QObject):
    """Automatic collection off while started; :func:`collect_due` every ``CHECK_MS`` on this
    object's (the GUI) thread instead."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = CHECK_MS) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(collect_due)

    def start(self) -> None:
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        gc.enable()
