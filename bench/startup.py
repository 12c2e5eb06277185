"""Startup benchmark: time to the main window, and idle memory, against a bare PySide6 window.

Each run is a fresh process on a fresh MORPHEUS_HOME (QT_QPA_PLATFORM=offscreen unless set). The
child prints ``shown <monotonic>`` once its window's first show event has been processed and
``rss <bytes>`` after the idle period; CLOCK_MONOTONIC is system-wide, so the parent subtracts the
moment just before it spawned the child. Ours and the bare window alternate so both see the same
machine load. Last line: ``startup: ratio <ours/bare time> rss_mb <ours>``.

    python bench/startup.py [--runs 5] [--idle 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

BARE = r"""
import os, sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

class Window(QMainWindow):
    first = True
    def showEvent(self, event):
        super().showEvent(event)
        if Window.first:
            Window.first = False
            QTimer.singleShot(0, shown)

def shown():
    print(f"shown {time.monotonic():.6f}", flush=True)
    QTimer.singleShot(int(float(os.environ["MORPHEUS_BENCH_IDLE_S"]) * 1000), report)

def report():
    import psutil
    print(f"rss {psutil.Process().memory_info().rss}", flush=True)
    app.quit()

app = QApplication(sys.argv)
window = Window()
window.setWindowTitle("bare")
window.resize(1100, 720)
window.show()
sys.exit(app.exec())
"""


# Bytecode is cached for both programs as an installed program's would be (pip compiles on
# install), but outside the source tree; PYTHONDONTWRITEBYTECODE in a dev shell would otherwise
# make every start recompile our modules, which is not what a user's start looks like.
PYCACHE = Path(tempfile.gettempdir()) / "morpheus-bench-pycache"


def run_once(cmd: list[str], idle_s: float) -> tuple[float, int]:
    with tempfile.TemporaryDirectory(prefix="morpheus-bench-") as home:
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        env.update(
            MORPHEUS_HOME=home, MORPHEUS_BENCH_STARTUP="1", MORPHEUS_BENCH_IDLE_S=str(idle_s)
        )
        start = time.monotonic()
        proc = subprocess.run(
            cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120 + idle_s
        )
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    values = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
    return float(values["shown"]) - start, int(values["rss"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds before measuring RSS")
    args = parser.parse_args()

    ours_cmd = [sys.executable, "-m", "app"]
    bare_cmd = [sys.executable, "-c", BARE]
    run_once(bare_cmd, 0)  # warm the OS file cache and bytecode cache for both, not measured
    run_once(ours_cmd, 0)
    ours: list[tuple[float, int]] = []
    bare: list[tuple[float, int]] = []
    for i in range(args.runs):
        ours.append(run_once(ours_cmd, args.idle))
        bare.append(run_once(bare_cmd, args.idle))
        print(
            f"run {i + 1}: ours {ours[-1][0] * 1000:.0f} ms {ours[-1][1] / 2**20:.1f} MB | "
            f"bare {bare[-1][0] * 1000:.0f} ms {bare[-1][1] / 2**20:.1f} MB",
            flush=True,
        )
    ours_t = statistics.median(t for t, _ in ours)
    bare_t = statistics.median(t for t, _ in bare)
    ours_rss = statistics.median(r for _, r in ours) / 2**20
    bare_rss = statistics.median(r for _, r in bare) / 2**20
    print(f"median time to window: ours {ours_t * 1000:.0f} ms, bare {bare_t * 1000:.0f} ms")
    print(f"median idle RSS after {args.idle:g} s: ours {ours_rss:.1f} MB, bare {bare_rss:.1f} MB")
    print(f"startup: ratio {ours_t / bare_t:.2f} rss_mb {ours_rss:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
