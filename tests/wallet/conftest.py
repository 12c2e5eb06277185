"""Wallet test fixtures: per-test wallet folders under the suite's MORPHEUS_HOME (so the final leak
scan sees everything the wallet wrote), fast KDF settings, and async tests on a qasync loop (the
loop the program runs on) so Qt signals and asyncio tasks interleave as in the app."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication

from app.logsetup import setup_logging
from app.paths import AppPaths, app_paths
from app.services.wallet_service import WalletService
from app.ui.qt_loop import QtEventLoop
from app.wallet.keyring_store import UnlockSecretStore
from tests.devnet_fixture import chain, devnet  # noqa: F401  (shared devnet fixtures)

# Small scrypt costs keep each test fast; the production defaults are exercised in test_keystore.
FAST_N = 2**10


def _qt_event_loop() -> Any:
    app = QApplication.instance() or QApplication([])
    return QtEventLoop(app)


def pytest_asyncio_loop_factories(config: Any, item: Any) -> dict[str, Any]:
    return {"qasync": _qt_event_loop}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the secret-leak scan after every other test of the session."""
    last = [i for i in items if "test_no_secret_leak" in i.nodeid]
    if last:
        items[:] = [i for i in items if i not in last] + last


@pytest.fixture(autouse=True, scope="session")
def _file_logging() -> None:
    setup_logging()  # real log file under MORPHEUS_HOME/logs, scanned at the end


@pytest.fixture
def wallet_paths(request: pytest.FixtureRequest) -> AppPaths:
    base = app_paths().data.parent / "wallet-tests" / re.sub(r"[^\w.-]+", "_", request.node.name)
    paths = AppPaths(base / "config", base / "data", base / "logs", base / "cache")
    return paths.ensure()


@pytest.fixture
def make_service(wallet_paths: AppPaths) -> Callable[..., WalletService]:
    def make(**kw: object) -> WalletService:
        kw.setdefault("keystore_scrypt_n", FAST_N)
        kw.setdefault("seal_scrypt_n", FAST_N)
        kw.setdefault("secrets", UnlockSecretStore(wallet_paths.wallet, wallet_paths.config))
        return WalletService(wallet_paths, **kw)  # type: ignore[arg-type]

    return make


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]
