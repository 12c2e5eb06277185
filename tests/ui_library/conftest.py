"""Library page tests: windows built as the launcher builds them, on the qasync loop, with a real
local HTTP server (Range, cut connections, web pages) standing in for the model host."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

from typing import Any

from tests.qt_async import qt_event_loop
from tests.ui.conftest import home, make_window, paths  # noqa: F401  (fixtures)


def pytest_asyncio_loop_factories(config: Any, item: Any) -> dict[str, Any]:
    return {"qasync": qt_event_loop}
