"""`morpheus demo` leaves nothing running: the chain it started and its provider node stop with
it (Ctrl-C here; closing the window takes the same way out)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from app.chain.devnet import read_pid_file

REPO = Path(__file__).resolve().parents[2]


def _wait_for_line(proc: subprocess.Popen[str], text: str, timeout: float) -> list[str]:
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"never printed {text!r}:\n{''.join(seen)}")


def test_demo_stops_the_chain_and_provider_it_started(tmp_path: Path) -> None:
    env = {**os.environ, "MORPHEUS_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "demo", "--no-gui", "--home", str(tmp_path / "demo")],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        _wait_for_line(proc, "Consumer wallet", 240)
        anvil = read_pid_file(tmp_path / "demo" / "devnet")
        assert anvil is not None and psutil.pid_exists(anvil)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children, "the provider node runs as a child"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=90)
        assert "Stopping the local chain" in out
        _, alive = psutil.wait_procs(
            [*children, *([psutil.Process(anvil)] if psutil.pid_exists(anvil) else [])],
            timeout=30,
        )
        assert not alive, f"left running: {alive}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
