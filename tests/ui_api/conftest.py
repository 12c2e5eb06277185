"""The API as the window runs it: windows built the way the launcher builds them, on the qasync
loop the program runs on (so the Settings switch's coroutines run exactly as in the app)."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

from typing import Any

from tests.qt_async import qt_event_loop
from tests.ui.conftest import home, make_window, paths  # noqa: F401  (fixtures)


def pytest_asyncio_loop_factories(config: Any, item: Any) -> dict[str, Any]:
    return {"qasync": qt_event_loop}
