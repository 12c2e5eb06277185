"""One way to run a coroutine from a Qt slot: ``Op(coro, owner).success(...).failure(...).run()``.

In the spirit of Anki's ``QueryOp``: the page says what to do with the result and with a
plain-language error, and this module does the rest the same way everywhere:

- the task is kept referenced until it ends (a bare ``create_task`` may be garbage-collected);
- a :class:`~app.errors.UserFacingError` goes to the page's ``failure`` handler (or its error
  label); anything else is logged, reported to the crash report (the loop's exception handler,
  which :class:`app.ui.error_dialog.ExceptionReporter` installs) and the page gets a short
  generic line;
- ``with_progress`` is told ``True`` when the work starts and ``False`` when it ends, however
  it ends;
- when the owner widget is closed or destroyed, its unfinished work is cancelled, so no
  coroutine outlives its page holding a network connection.

Outside a running event loop (a widget built by a plain script) ``run`` closes the coroutine
and returns ``None``, as the pages always did.
"""

from __future__ import annotations

import logging
import sys
import weakref
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QLabel

from app.errors import UserFacingError
from app.ui.first_paint import after_first_paint, holding

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger(__name__)
T = TypeVar("T")

GENERIC_ERROR = "Something went wrong. The details are in the log."
_TRACKER_NAME = "_morpheus_ops"


def error_label() -> QLabel:
    """The red line under a form or page where an Op's plain-language error appears."""
    label = QLabel()
    label.setProperty("role", "error")
    label.setWordWrap(True)
    label.setStyleSheet("color: #c62828;")
    label.hide()
    return label


def show_error(label: QLabel, text: str | None) -> None:
    label.setText(text or "")
    label.setVisible(bool(text))


class OpTracker(QObject):
    """Holds an owner's running tasks; cancels them when the owner is destroyed, and with those of
    every widget inside it when the owner is closed."""

    def __init__(self, owner: QObject) -> None:
        super().__init__(owner)
        self.setObjectName(_TRACKER_NAME)
        self.tasks: set[asyncio.Task[Any]] = set()
        owner.installEventFilter(self)
        owner.destroyed.connect(self.cancel_all)

    def add(self, task: asyncio.Task[Any]) -> None:
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def cancel_all(self, *_args: Any) -> None:
        for task in list(self.tasks):
            task.cancel()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Close:  # the window goes: so does the work of its parts
            owner = self.parent()
            inner = owner.findChildren(OpTracker) if owner is not None else []
            for tracker in {self, *inner}:
                tracker.cancel_all()
        return False


def tracker_of(owner: QObject) -> OpTracker:
    found = owner.findChild(OpTracker, _TRACKER_NAME)
    return found if isinstance(found, OpTracker) else OpTracker(owner)


def running_ops(owner: QObject) -> set[asyncio.Task[Any]]:
    """The owner's unfinished work (tests and close handlers wait on it)."""
    return set(tracker_of(owner).tasks)


def cancel_ops(owner: QObject) -> None:
    tracker_of(owner).cancel_all()


def _live_loop() -> asyncio.AbstractEventLoop | None:
    """The running loop (qasync marks its loop running while the window's event loop runs)."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:  # the launch paints its first page before asyncio is even imported
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def report_crash(exc: BaseException, what: str) -> None:
    """Send an unexpected error to the crash report (the loop's exception handler)."""
    import asyncio

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        log.error("%s failed", what, exc_info=exc)
        return
    loop.call_exception_handler({"message": f"{what} failed", "exception": exc})


class Op(Generic[T]):
    """A coroutine started from a slot, with what to do on success, failure and progress."""

    def __init__(self, coro: Coroutine[Any, Any, T], owner: QObject | None = None,
                 *, name: str = "") -> None:
        self.coro = coro
        self.owner = owner
        self.name = name or getattr(coro, "__qualname__", "operation")
        self._success: Callable[[T], Any] | None = None
        self._failure: Callable[[str], Any] | None = None
        self._progress: Callable[[bool], Any] | None = None
        self._label: QLabel | None = None
        self._keep_running = False

    def keep_running(self) -> Op[T]:
        """Let this work finish even if its window closes (a send, an open or a close of a
        session: stopping those half-way would leave the user unsure what happened)."""
        self._keep_running = True
        return self

    def success(self, handler: Callable[[T], Any]) -> Op[T]:
        self._success = handler
        return self

    def failure(self, handler: Callable[[str], Any]) -> Op[T]:
        """``handler(message)`` with the plain-language message of what went wrong."""
        self._failure = handler
        return self

    def errors_in(self, label: QLabel) -> Op[T]:
        """Show failures in ``label`` (cleared when the work starts)."""
        self._label = label
        return self

    def with_progress(self, handler: Callable[[bool], Any]) -> Op[T]:
        self._progress = handler
        return self

    def run(self, loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Task[T | None] | None:
        """Start the work (on ``loop``, else the running one); ``None`` when no loop runs. While
        the launch paints its first page (no loop yet) the work starts once the loop runs."""
        loop = loop or _live_loop()
        if loop is None and holding():
            after_first_paint(self.run, dropped=self.coro.close)
            return None
        if loop is None:
            self.coro.close()
            return None
        if self._label is not None:
            show_error(self._label, None)
        task = loop.create_task(self._guarded())
        _EVERY.add(task)
        if self.owner is not None and not self._keep_running:
            tracker_of(self.owner).add(task)
        else:
            _UNOWNED.add(task)
            task.add_done_callback(_UNOWNED.discard)
        return task

    def _fail(self, message: str) -> None:
        if self._label is not None:
            show_error(self._label, message)
        if self._failure is not None:
            self._failure(message)

    async def _guarded(self) -> T | None:
        import asyncio

        if self._progress is not None:
            self._progress(True)
        try:
            result = await self.coro
        except UserFacingError as exc:
            log.info("%s: %s", self.name, exc.message)
            self._fail(exc.message)
            return None
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("%s failed", self.name)
            report_crash(exc, self.name)
            self._fail(GENERIC_ERROR)
            return None
        finally:
            if self._progress is not None:
                self._progress(False)
        if self._success is not None:
            self._success(result)
        return result


_UNOWNED: set[asyncio.Task[Any]] = set()
_EVERY: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()


def pending_ops() -> list[asyncio.Task[Any]]:
    """Every Op still running, whoever owns it (shutdown and tests wait on these)."""
    return [t for t in list(_EVERY) if not t.done()]


class OpHost:
    """A widget's handle on its Ops, for pages that start many: ``spawn(coro, label)`` is
    ``Op(coro, owner).errors_in(label).run()``; ``last_task`` is the latest (tests await it)."""

    def __init__(self, owner: QObject | None = None) -> None:
        self.owner = owner
        self._own: set[asyncio.Task[Any]] = set()
        self.last_task: asyncio.Task[Any] | None = None

    @property
    def tasks(self) -> set[asyncio.Task[Any]]:
        mine = {t for t in self._own if not t.done()}
        return mine | (running_ops(self.owner) if self.owner is not None else set())

    def spawn(self, coro: Coroutine[Any, Any, T], errors: QLabel | None = None, *,
              keep_running: bool = False,
              loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Task[T | None] | None:
        op = Op(coro, self.owner)
        if errors is not None:
            op.errors_in(errors)
        if keep_running:
            op.keep_running()
        task = op.run(loop)
        if task is not None:
            self.last_task = task
            if self.owner is None or keep_running:
                self._own.add(task)
                task.add_done_callback(self._own.discard)
        return task

    def cancel_all(self) -> None:
        for task in list(self.tasks):
            task.cancel()
