"""Layout tests reuse the window fixtures of tests/ui and tests/ui_words."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

from tests.ui_words.conftest import (  # noqa: F401  (fixtures and the qasync loop)
    _close_stray_loop,
    chain_snapshot,
    devnet,
    headless_provider,
    home,
    make_gui,
    make_window,
    paths,
    pytest_asyncio_loop_factories,
    smol_engine,
)
