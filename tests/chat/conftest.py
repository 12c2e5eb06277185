"""Chat page tests run their coroutines on a qasync loop, the same loop the program runs on, so
Qt signals and asyncio tasks interleave exactly as in the app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import qasync
from PySide6.QtWidgets import QApplication

from app.inference.types import ChatEngine
from tests.api.llama_engine import make_test_engine


def _qt_event_loop() -> Any:
    app = QApplication.instance() or QApplication([])
    return qasync.QEventLoop(app)


def pytest_asyncio_loop_factories(config: Any, item: Any) -> dict[str, Any]:
    return {"qasync": _qt_event_loop}


@pytest.fixture(scope="session")
def real_engine() -> Iterator[ChatEngine]:
    engine, close = make_test_engine()
    yield engine
    close()
