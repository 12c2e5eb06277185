"""``--selftest`` from the development environment: every check runs for real (engine with the
bundled model, window offscreen, keyring fallback) and the user's data folder is left alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ENTRY = REPO / "packaging" / "entry.py"


def test_selftest_passes_and_writes_nothing_into_the_users_data(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    settings = home / "config" / "settings.json"
    settings.write_text('{"theme": "dark"}')
    env = dict(os.environ, MORPHEUS_HOME=str(home))
    env.pop("QT_QPA_PLATFORM", None)  # the self-test goes offscreen by itself
    proc = subprocess.run(
        [sys.executable, "-m", "app", "--selftest"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for name in ("program", "data folder", "keyring", "wallet", "engine", "GPU", "window"):
        assert f"] {name}:" in out, out
    assert "selftest: ok" in out.splitlines()[-1]
    assert settings.read_text() == '{"theme": "dark"}'
    written = sorted(p.relative_to(home).as_posix() for p in home.rglob("*") if p.is_file())
    assert written == ["config/settings.json"], written


def test_frozen_entry_runs_modules_given_with_dash_m(tmp_path: Path) -> None:
    """The bundle's executable stands in for ``python -m`` (the engine's child process)."""
    env = dict(os.environ, MORPHEUS_HOME=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, str(ENTRY), "-m", "app.cli", "--version"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().startswith("morpheus 0.")
    proc = subprocess.run(
        [sys.executable, str(ENTRY), "-m", "app.cli", "no-such-command"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
