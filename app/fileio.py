"""Atomic, owner-only file writes: a crash mid-write never leaves a half file behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str, mode: int = 0o600) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def is_shared(path: Path) -> bool:
    """True when people other than the owner may read or write ``path`` (POSIX modes)."""
    return os.name != "nt" and bool(path.stat().st_mode & 0o077)


def make_private(path: Path) -> bool | None:
    """Give a file or folder others can read owner-only permissions (600 / 700).

    True when it was changed, False when it was private already, None when it belongs to another
    user account (then only that account or an administrator can fix it).
    """
    if not path.exists() or not is_shared(path):
        return False
    st = path.stat()
    if st.st_uid != os.getuid():
        return None
    os.chmod(path, 0o700 if path.is_dir() else 0o600)
    return True


def ensure_private_dir(path: Path) -> None:
    """Create a folder only its owner can enter (files in it inherit that protection)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        make_private(path)
