"""The crash hooks, installed at launch for the price of three assignments.

:class:`app.ui.error_dialog.ExceptionReporter` (the report and its dialog) costs tens of
milliseconds to import, all before the first page could paint. This stand-in takes the same
hooks (``sys.excepthook``, ``threading.excepthook``, the asyncio loop's exception handler) at
once and builds the real reporter on the first error, in the GUI thread, then hands it every error
the reporter itself would have got: the same report, log line and dialog, only imported on demand.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from app.ui.hook_slots import HookSlots

if TYPE_CHECKING:
    import asyncio

    from PySide6.QtWidgets import QWidget

    from app.ui.error_dialog import ExceptionReporter


class CrashHook(HookSlots):
    """Installs the hooks now; imports and creates the ``ExceptionReporter`` when first needed."""

    def __init__(self, parent_widget: Callable[[], QWidget | None] = lambda: None) -> None:
        self._parent_widget = parent_widget
        self._reporter: ExceptionReporter | None = None
        self._main_thread = threading.current_thread()

    @property
    def reporter(self) -> ExceptionReporter:
        """The real reporter (created on first use; call from the GUI thread)."""
        if self._reporter is None:
            from app.ui.error_dialog import ExceptionReporter

            self._reporter = ExceptionReporter(self._parent_widget)
        return self._reporter

    def handle_exception(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
        context: str = "",
    ) -> None:
        self._in_gui_thread(lambda r: r.handle_exception(exc_type, exc, tb, context), exc)

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        self._in_gui_thread(lambda r: r._thread_hook(args), args.exc_value)

    def handle_loop_exception(
        self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]
    ) -> None:
        self._in_gui_thread(lambda r: r.handle_loop_exception(loop, context), None)

    def _in_gui_thread(
        self, call: Callable[[ExceptionReporter], None], exc: BaseException | None
    ) -> None:
        """Once the reporter exists it is thread-safe (it reports through a queued signal); the
        first error from another thread asks the loop to create it in the GUI thread first."""
        if self._reporter is not None or threading.current_thread() is self._main_thread:
            call(self.reporter)
        elif self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(lambda: call(self.reporter))
        elif exc is not None:  # no loop to hand it to (shutting down): print it as Python would
            sys.__excepthook__(type(exc), exc, exc.__traceback__)
