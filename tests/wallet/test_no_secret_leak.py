"""After every other test (the wallet conftest moves this one last), scan everything the program
wrote under MORPHEUS_HOME, logs and data alike, for the recovery phrases, private keys and
passwords the wallet tests used. Any of them in clear is a leak."""

from __future__ import annotations

import logging
from pathlib import Path

from app.paths import app_paths
from tests.wallet.secrets_seen import SEEN


def _variants(secret: str) -> set[str]:
    out = {secret}
    hexed = secret.removeprefix("0x")
    if len(hexed) == 64 and all(c in "0123456789abcdefABCDEF" for c in hexed):
        out |= {hexed.lower(), hexed.upper(), "0x" + hexed.lower()}
        out.add(bytes.fromhex(hexed).decode("latin-1"))  # the raw bytes, too
    words = secret.split()
    if len(words) >= 12:
        out.add(",".join(words))
        out.add(" ".join(words[:6]))  # half a phrase is a leak as well
    return out


def _log_files() -> list[Path]:
    """Wherever the program's logging writes: an earlier test may have configured it under
    another MORPHEUS_HOME (logging is set up once per process)."""
    out: list[Path] = []
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.flush()
            base = Path(handler.baseFilename)
            out += [p for p in base.parent.glob(base.name + "*") if p.is_file()]
    return out


def test_no_secret_in_clear_under_morpheus_home() -> None:
    home = app_paths().data.parent
    files = [p for p in home.rglob("*") if p.is_file()]
    files += [p for p in _log_files() if p not in files]
    assert any(p.name == "wallet.json" for p in files), "the wallet tests should have written files"
    assert any(p.suffix == ".log" or ".log" in p.name for p in files), "no log file was written"
    phrases = [s for s in SEEN if len(s.split()) >= 12]
    keys = [s for s in SEEN if len(s.removeprefix("0x")) == 64]
    assert phrases and keys, "the wallet tests should have registered what they used"
    needles = {v for s in SEEN for v in _variants(s)}
    leaks: list[str] = []
    for path in files:
        data = path.read_bytes().decode("latin-1")
        for needle in needles:
            if needle in data:
                leaks.append(f"{path} contains a secret ({needle[:4]}…)")
    assert not leaks, "\n".join(sorted(set(leaks)))


def test_wallet_files_are_owner_only() -> None:
    home = app_paths().data.parent
    for path in home.rglob("wallet.json"):
        assert (path.stat().st_mode & 0o077) == 0, path
    for path in home.rglob("transactions.json"):
        assert (path.stat().st_mode & 0o077) == 0, path
    assert isinstance(home, Path)
