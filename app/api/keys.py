"""The local API's key: generated once, kept in an owner-only file under the config dir.

Why a key at all on 127.0.0.1: any web page the user visits can make the browser send requests to
localhost, and any other local user can connect too; a bearer key keeps both out. The Settings page
shows the key so the user can paste it into other tools.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from app.fileio import atomic_write_text
from app.logsetup import register_secret
from app.paths import AppPaths, app_paths

KEY_PREFIX = "mor-"
_MIN_KEY_LEN = 24


def api_key_path(paths: AppPaths | None = None) -> Path:
    return (paths or app_paths()).config / "api_key"


def generate_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def regenerate_api_key(paths: AppPaths | None = None) -> str:
    """Make a new key (the old one stops working at the next server start)."""
    key = generate_api_key()
    atomic_write_text(api_key_path(paths), key + "\n", mode=0o600)
    register_secret(key)
    return key


def load_or_create_api_key(paths: AppPaths | None = None) -> str:
    """Return the saved key, creating one on first use (or if the file is empty or damaged)."""
    path = api_key_path(paths)
    try:
        key = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        key = ""
    except (OSError, UnicodeDecodeError):
        key = ""
    if len(key) < _MIN_KEY_LEN or any(c.isspace() for c in key):
        return regenerate_api_key(paths)
    if os.name == "posix" and path.stat().st_mode & 0o077:
        path.chmod(0o600)
    register_secret(key)
    return key
