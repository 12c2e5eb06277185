"""The qasync loop for async Qt tests: coroutines run on the loop the program itself runs on, so
Qt signals and asyncio tasks interleave exactly as in the app. A conftest opts in with::

    def pytest_asyncio_loop_factories(config, item):
        return {"qasync": qt_event_loop}
"""

from __future__ import annotations

from typing import Any

import qasync
from PySide6.QtWidgets import QApplication


def qt_event_loop() -> Any:
    app = QApplication.instance() or QApplication([])
    return qasync.QEventLoop(app)
