"""Qt tests run offscreen, each window on its own data folder (never the developer's)."""

from __future__ import annotations

import os
import tempfile

# Before anything imports Qt.
os.environ["QT_QPA_PLATFORM"] = "offscreen"
if "MORPHEUS_HOME" not in os.environ:
    os.environ["MORPHEUS_HOME"] = tempfile.mkdtemp(prefix="morpheus-ui-test-")

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.paths import AppPaths
from app.ui.main_window import MainWindow

REPO_ROOT = Path(__file__).resolve().parents[2]


def paths_under(base: Path) -> AppPaths:
    """The same layout ``app_paths()`` gives for ``MORPHEUS_HOME=base``."""
    return AppPaths(base / "config", base / "data", base / "logs", base / "cache").ensure()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    base = tmp_path / "home"
    base.mkdir()
    return base


@pytest.fixture
def paths(home: Path) -> AppPaths:
    return paths_under(home)


@pytest.fixture
def make_window(qapp, qtbot, paths: AppPaths) -> Iterator[Callable[..., MainWindow]]:
    """A MainWindow built the way the launcher builds it; closed at teardown, and the
    application's look (theme, style sheet) put back so other test folders see plain Qt."""
    from app.ui.launch import build_main_window, create_application

    palette, sheet = qapp.palette(), qapp.styleSheet()
    create_application([])

    def make(for_paths: AppPaths | None = None) -> MainWindow:
        window = build_main_window(qapp, for_paths or paths)
        qtbot.addWidget(window)
        return window

    yield make
    qapp.setStyleSheet(sheet)
    qapp.setPalette(palette)
    qapp.setQuitOnLastWindowClosed(True)


def subprocess_env(home: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["MORPHEUS_HOME"] = str(home)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.update(extra)
    return env
