"""Taking and giving back the process's three crash hooks, shared by the light stand-in installed
at launch (``crash_hook``) and the real reporter (``error_dialog``)."""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio


class HookSlots:
    """Takes and gives back the three hooks for whoever defines ``handle_exception``,
    ``_thread_hook`` and ``handle_loop_exception`` (this stand-in and the real reporter)."""

    _old_sys_hook: Any = None
    _old_thread_hook: Any = None
    _loop: asyncio.AbstractEventLoop | None = None

    def install(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._old_sys_hook = sys.excepthook
        self._old_thread_hook = threading.excepthook
        sys.excepthook = self.handle_exception  # type: ignore[attr-defined]
        threading.excepthook = self._thread_hook  # type: ignore[attr-defined]
        if loop is not None:
            self.attach_loop(loop)

    def attach_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Also take the asyncio loop's exception handler (the launch makes its loop after the
        first paint, and the other hooks before)."""
        self._loop = loop
        loop.set_exception_handler(self.handle_loop_exception)  # type: ignore[attr-defined]

    def uninstall(self) -> None:
        if self._old_sys_hook is not None:
            sys.excepthook = self._old_sys_hook
            threading.excepthook = self._old_thread_hook
            self._old_sys_hook = None
        if self._loop is not None:
            self._loop.set_exception_handler(None)
            self._loop = None
