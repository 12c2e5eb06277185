"""Words tests reuse the window fixtures of tests/ui (offscreen, own data folder) and, for the
states with a wallet, the devnet ones of tests/ui_share (real anvil, real SmolLM2, the program's
own services)."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

from tests.ui.conftest import home, make_window, paths  # noqa: F401  (fixtures)
from tests.ui_share.conftest import (  # noqa: F401  (fixtures and the qasync loop)
    chain_snapshot,
    devnet,
    headless_provider,
    make_gui,
    pytest_asyncio_loop_factories,
    smol_engine,
)
