"""Live-state GUI tests reuse the Share/Activity fixtures: the real devnet, SmolLM2, a GUI
context per dev account with the program's own ``AppServices`` (whose chain watcher polls the
devnet's block number), and a headless consumer with its own chain client."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

from tests.ui_share.conftest import (  # noqa: F401  (fixtures and the qasync loop)
    chain_snapshot,
    devnet,
    headless_consumer,
    headless_provider,
    make_gui,
    pytest_asyncio_loop_factories,
    smol_engine,
)
