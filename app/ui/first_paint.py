"""Work that can wait until the start page has painted with its data, during a launch.

Why: the launcher paints the start page as early as it can; anything a user cannot see or use in
that first moment (an item flag, the system colour-scheme watch, the D-Bus sleep signals, the tray
icon) waits until just after that paint instead of delaying it. Some of it also costs far more
than it looks: the first Python use of any ``Qt.*`` enum builds all ~95 enums of the ``Qt``
namespace (~25 ms), so code before the first paint avoids them and defers what needs them here.

Outside a launch (tests, a page built later) :func:`after_first_paint` runs its callback at once,
so nothing changes for code that never calls :func:`hold`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

# (callback, what to do instead if the launch ends before the paint)
_waiting: list[tuple[Callable[[], object], Callable[[], object] | None]] | None = None


def hold() -> None:
    """The launcher starts painting the first page: later :func:`after_first_paint` calls wait."""
    global _waiting
    if _waiting is None:
        _waiting = []


def holding() -> bool:
    return _waiting is not None


def after_first_paint(
    callback: Callable[[], object], *, dropped: Callable[[], object] | None = None
) -> None:
    """Run ``callback`` once the start page has painted (at once when no launch is painting);
    ``dropped`` runs instead if the launch ends before that paint (e.g. to close a coroutine)."""
    if _waiting is None:
        callback()
    elif all(callback != waiting for waiting, _ in _waiting):  # the same bound method: once
        _waiting.append((callback, dropped))


def release() -> None:
    """The first page has painted: run what waited, in order (one failure does not stop the
    rest)."""
    global _waiting
    waiting, _waiting = _waiting or [], None
    for callback, _ in waiting:
        try:
            callback()
        except Exception:
            log.exception("deferred start-up step %r failed", callback)


def abandon() -> None:
    """The launch ended before its first paint: what waited is dropped, and later calls run at
    once again."""
    global _waiting
    waiting, _waiting = _waiting or [], None
    for _, dropped in waiting:
        if dropped is not None:
            try:
                dropped()
            except Exception:
                log.exception("dropping start-up step %r failed", dropped)
