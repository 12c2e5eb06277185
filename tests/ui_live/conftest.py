"""Live-state GUI tests reuse the Share/Activity fixtures: the real devnet, SmolLM2, a GUI
context per dev account with the program's own ``AppServices`` (whose chain watcher polls the
devnet's block number), and a headless consumer with its own chain client."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

from typing import Any

from pytestqt.qtbot import QtBot

from app.storage.settings import SettingsStore
from app.ui.app_state import SETTINGS_STORE
from app.ui.main_window import MainWindow
from tests.ui_share.conftest import (  # noqa: F401  (fixtures and the qasync loop)
    chain_snapshot,
    devnet,
    headless_consumer,
    headless_provider,
    make_gui,
    pytest_asyncio_loop_factories,
    smol_engine,
)


def devnet_window(qtbot: QtBot, gui: Any, **settings: Any) -> MainWindow:
    """The real main window for a GUI context on the devnet, its settings saved and handed over
    as the launcher does (not shown yet)."""
    store = SettingsStore.open(gui.paths.settings_file)
    store.update(network="devnet", **settings)
    gui.ctx.extras[SETTINGS_STORE] = store
    gui.ctx.settings = store.settings
    window = MainWindow(gui.ctx, tray_available=False, open_start_page_on_show=False)
    qtbot.addWidget(window)
    return window
