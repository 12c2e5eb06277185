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
from typing import NamedTuple

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
    print(f"shown {time.monotonic():.6f}\ncpu {time.process_time():.6f}", flush=True)
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
class Sample(NamedTuple):
    wall_s: float  # process start to window shown
    cpu_s: float  # CPU the child used until then (steadier than wall time on a busy machine)
    rss: int  # bytes, after the idle period


PYCACHE = Path(tempfile.gettempdir()) / "morpheus-bench-pycache"


def run_once(cmd: list[str], idle_s: float) -> Sample:
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
    return Sample(float(values["shown"]) - start, float(values["cpu"]), int(values["rss"]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds before measuring RSS")
    args = parser.parse_args()

    ours_cmd = [sys.executable, "-m", "app"]
    bare_cmd = [sys.executable, "-c", BARE]
    run_once(bare_cmd, 0)  # warm the OS file cache and bytecode cache for both, not measured
    run_once(ours_cmd, 0)
    ours: list[Sample] = []
    bare: list[Sample] = []
    for i in range(args.runs):
        ours.append(run_once(ours_cmd, args.idle))
        bare.append(run_once(bare_cmd, args.idle))
        print(
            f"run {i + 1}: ours {ours[-1].wall_s * 1000:.0f} ms (cpu {ours[-1].cpu_s * 1000:.0f})"
            f" {ours[-1].rss / 2**20:.1f} MB | bare {bare[-1].wall_s * 1000:.0f} ms"
            f" (cpu {bare[-1].cpu_s * 1000:.0f}) {bare[-1].rss / 2**20:.1f} MB",
            flush=True,
        )

    def med(samples: list[Sample], field: str) -> float:
        return statistics.median(getattr(s, field) for s in samples)

    ours_t, bare_t = med(ours, "wall_s"), med(bare, "wall_s")
    ours_c, bare_c = med(ours, "cpu_s"), med(bare, "cpu_s")
    ours_rss, bare_rss = med(ours, "rss") / 2**20, med(bare, "rss") / 2**20
    print(f"median time to window: ours {ours_t * 1000:.0f} ms, bare {bare_t * 1000:.0f} ms")
    print(
        f"median CPU to window: ours {ours_c * 1000:.0f} ms, bare {bare_c * 1000:.0f} ms"
        f" (ratio {ours_c / bare_c:.2f})"
    )
    print(f"median idle RSS after {args.idle:g} s: ours {ours_rss:.1f} MB, bare {bare_rss:.1f} MB")
    print(f"startup: ratio {ours_t / bare_t:.2f} rss_mb {ours_rss:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
