"""First-run fixtures: the real window built the way ``app.ui.launch.run_gui`` builds it, on a
fresh data folder per test, with real services, on the qasync loop the program runs on."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from PySide6.QtWidgets import QApplication, QWidget

from app.paths import AppPaths
from app.services.wallet_service import WalletService
from app.ui.app_state import shutdown_hooks
from app.ui.main_window import MainWindow
from app.wallet.keyring_store import UnlockSecretStore
from tests.devnet_fixture import chain, devnet  # noqa: F401  (fixtures)
from tests.qt_async import cancel_ui_ops, qt_event_loop
from tests.ui_share.conftest import wait_until  # noqa: F401  (re-exported for the tests)

FAST_N = 2**10  # small scrypt cost: the production cost is tested in tests/wallet


def pytest_asyncio_loop_factories(config: Any, item: Any) -> dict[str, Any]:
    return {"qasync": qt_event_loop}


def paths_under(base: Path) -> AppPaths:
    return AppPaths(base / "config", base / "data", base / "logs", base / "cache").ensure()


@pytest.fixture
def paths(tmp_path: Path) -> AppPaths:
    return paths_under(tmp_path / "home")


def add_practice_network(paths: AppPaths, network: dict[str, Any]) -> None:
    """What ``morpheus devnet up`` / the demo leave in the data folder."""
    (paths.data / "devnet").mkdir(parents=True, exist_ok=True)
    (paths.data / "devnet" / "network.json").write_text(json.dumps(network))


Launch = Callable[..., MainWindow]


@pytest_asyncio.fixture
async def launch(qapp: QApplication, paths: AppPaths) -> AsyncIterator[Launch]:
    """``launch()`` opens the window as the launcher does (shown, then its first page);
    every window is quit at teardown and the application's look put back."""
    from app.ui.launch import build_main_window, create_application

    palette, sheet = qapp.palette(), qapp.styleSheet()
    create_application([])
    windows: list[MainWindow] = []

    def open_window(for_paths: AppPaths | None = None) -> MainWindow:
        p = for_paths or paths
        window = build_main_window(qapp, p, open_start_page_on_show=False)
        # The real wallet service, with a small scrypt cost so each test stays quick.
        window.ctx.wallet = WalletService(
            p, keystore_scrypt_n=FAST_N, seal_scrypt_n=FAST_N,
            secrets=UnlockSecretStore(p.wallet, p.config),
        )
        window.resize(800, 600)
        window.show()
        window.open_first_page()  # what run_gui calls once its loop runs
        windows.append(window)
        return window

    yield open_window
    await cancel_ui_ops()
    for window in windows:
        window.request_quit()
        for hook in shutdown_hooks(window.ctx):
            await hook()
        window.deleteLater()
    QApplication.processEvents()
    qapp.setStyleSheet(sheet)
    qapp.setPalette(palette)
    qapp.setQuitOnLastWindowClosed(True)


def visible_top_levels() -> list[QWidget]:
    return [w for w in QApplication.topLevelWidgets() if w.isVisible() and w.isWindow()]
