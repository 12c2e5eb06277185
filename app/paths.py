"""Where the program keeps its files.

Everything lives under the platform's per-user dirs (platformdirs). ``MORPHEUS_HOME`` moves all of
it under one folder, which is how tests, the demo and a second local instance stay apart.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "MorpheusDesktop"


@dataclass(frozen=True)
class AppPaths:
    config: Path
    data: Path
    logs: Path
    cache: Path

    @property
    def settings_file(self) -> Path:
        return self.config / "settings.json"

    @property
    def models(self) -> Path:
        return self.data / "models"

    @property
    def wallet(self) -> Path:
        return self.data / "wallet"

    @property
    def database(self) -> Path:
        return self.data / "morpheus.sqlite3"

    def ensure(self) -> AppPaths:
        for p in (self.config, self.data, self.logs, self.cache, self.models, self.wallet):
            p.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):
                p.chmod(0o700)
        return self


def app_paths() -> AppPaths:
    home = os.environ.get("MORPHEUS_HOME")
    if home:
        base = Path(home)
        return AppPaths(base / "config", base / "data", base / "logs", base / "cache")
    return AppPaths(
        Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
    )


def resources_dir() -> Path:
    """The repository's ``resources/`` folder (contract artifacts, catalog, icons)."""
    return Path(__file__).resolve().parent.parent / "resources"
