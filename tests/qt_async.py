"""The qasync loop for async Qt tests: coroutines run on the loop the program itself runs on, so
Qt signals and asyncio tasks interleave exactly as in the app. A conftest opts in with::

    def pytest_asyncio_loop_factories(config, item):
        return {"qasync": qt_event_loop}
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QApplication

from app.ui.qt_loop import QtEventLoop


def qt_event_loop() -> Any:
    app = QApplication.instance() or QApplication([])
    return QtEventLoop(app)


async def cancel_ui_ops(timeout: float = 10.0) -> None:
    """Cancel the GUI work still running (``app.ui.ops``) and wait for it to unwind: a refresh or
    a ping a closed page left behind must close its connections now, not when the garbage
    collector finds them."""
    import asyncio

    from app.ui.ops import pending_ops

    others = [t for t in pending_ops() if t is not asyncio.current_task()]
    for task in others:
        task.cancel()
    if others:
        await asyncio.wait(others, timeout=timeout)
