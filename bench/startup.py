"""Startup benchmark: time to the first page painted with its content, and idle memory, against a
bare PySide6 window painting a comparable simple page, measured in the same run.

Each run is a fresh process on a fresh MORPHEUS_HOME (QT_QPA_PLATFORM=offscreen unless set), set
up as a returning user's (the welcome steps done, so the start page is Chat, the usual and the
heaviest first page; ``--first-run`` measures the welcome steps instead). With
``MORPHEUS_BENCH_MARK=1`` our launcher prints ``painted <monotonic>`` once the start page has
painted with its data in (not the empty frame; see ``app.ui.launch._arm_first_paint_mark``); with
``MORPHEUS_BENCH_STARTUP=1`` it prints ``shown`` at the first show event and ``rss <bytes>`` after
the idle period, then quits. The bare anchor prints the same lines for its own page: a sidebar, a
title, a search box, a list, a model picker, a transcript and a prompt. CLOCK_MONOTONIC is
system-wide, so the parent subtracts the moment just before it spawned the child. Ours and the
bare window alternate so both see the same machine load, on the same Python, Qt and platform.
Last line: ``startup: ratio <ours/bare first paint> rss_mb <ours idle> first_page_ms <ours>``.

    python bench/startup.py [--runs 5] [--idle 5] [--first-run]
"""

from __future__ import annotations

import argparse
import json
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
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import (
    QApplication, QComboBox, QHBoxLayout, QLabel, QLineEdit, QListWidget, QMainWindow,
    QPlainTextEdit, QPushButton, QStackedWidget, QTextBrowser, QVBoxLayout, QWidget,
)

def shown():
    print(f"shown {time.monotonic():.6f}\ncpu {time.process_time():.6f}", flush=True)

def painted():
    print(f"painted {time.monotonic():.6f}\npainted_cpu {time.process_time():.6f}", flush=True)
    QTimer.singleShot(int(float(os.environ["MORPHEUS_BENCH_IDLE_S"]) * 1000), report)

def report():
    import psutil
    print(f"rss {psutil.Process().memory_info().rss}", flush=True)
    app.quit()

class Window(QMainWindow):
    first = True
    def showEvent(self, event):
        super().showEvent(event)
        if Window.first:
            Window.first = False
            QTimer.singleShot(0, shown)

class PaintWatch(QObject):
    done = False
    def eventFilter(self, watched, event):
        if not self.done and event.type() == QEvent.Type.Paint:
            self.done = True
            QTimer.singleShot(0, painted)
        return False

app = QApplication(sys.argv)
window = Window()
window.setWindowTitle("bare")
sidebar = QListWidget()
sidebar.addItems(["Chat", "Share my GPU", "Models", "Wallet", "Activity", "Settings"])
sidebar.setFixedWidth(210)
page = QWidget()
conversations = QListWidget()
conversations.addItems([f"Conversation {i}" for i in range(5)])
side = QVBoxLayout()
side.addWidget(QLineEdit(placeholderText="Search"))
side.addWidget(QPushButton("New chat"))
side.addWidget(conversations, 1)
picker = QComboBox()
picker.addItems(["This computer · SmolLM2 135M"])
transcript = QTextBrowser()
transcript.setHtml("<p><b>You</b></p><p>Hello</p><p><b>Assistant</b></p><p>Hi! How can I help?</p>")
main = QVBoxLayout()
main.addWidget(QLabel("<h2>Chat</h2>"))
main.addWidget(picker)
main.addWidget(transcript, 1)
main.addWidget(QPlainTextEdit(placeholderText="Ask anything"))
main.addWidget(QPushButton("Send"))
row = QHBoxLayout(page)
row.addLayout(side)
row.addLayout(main, 1)
stack = QStackedWidget()
stack.addWidget(page)
central = QWidget()
outer = QHBoxLayout(central)
outer.addWidget(sidebar)
outer.addWidget(stack, 1)
window.setCentralWidget(central)
window.statusBar().showMessage("Not connected")
watch = PaintWatch()
page.installEventFilter(watch)
window.resize(1100, 720)
window.show()
sys.exit(app.exec())
"""


# Bytecode is cached for both programs as an installed program's would be (pip compiles on
# install), but outside the source tree; PYTHONDONTWRITEBYTECODE in a dev shell would otherwise
# make every start recompile our modules, which is not what a user's start looks like.
class Sample(NamedTuple):
    wall_s: float  # process start to the first page painted with its content
    cpu_s: float  # CPU the child used until then (steadier than wall time on a busy machine)
    shown_s: float  # process start to the window's first show event being handled
    rss: int  # bytes, after the idle period


PYCACHE = Path(tempfile.gettempdir()) / "morpheus-bench-pycache"


def run_once(cmd: list[str], idle_s: float, *, first_run: bool = False) -> Sample:
    with tempfile.TemporaryDirectory(prefix="morpheus-bench-") as home:
        if not first_run:
            config = Path(home) / "config"
            config.mkdir()
            (config / "settings.json").write_text(json.dumps({"welcome_done": True}))
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        env.update(
            MORPHEUS_HOME=home,
            MORPHEUS_BENCH_STARTUP="1",
            MORPHEUS_BENCH_MARK="1",
            MORPHEUS_BENCH_IDLE_S=str(idle_s),
        )
        start = time.monotonic()
        proc = subprocess.run(
            cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120 + idle_s
        )
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    values = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
    if "painted" not in values:
        raise SystemExit(f"{' '.join(cmd)} never painted its first page:\n{proc.stdout}")
    return Sample(
        float(values["painted"]) - start,
        float(values["painted_cpu"]),
        float(values["shown"]) - start,
        int(values["rss"]),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds before measuring RSS")
    parser.add_argument(
        "--first-run", action="store_true", help="a fresh data folder: the welcome steps first"
    )
    args = parser.parse_args()

    ours_cmd = [sys.executable, "-m", "app"]
    bare_cmd = [sys.executable, "-c", BARE]
    run_once(bare_cmd, 0)  # warm the OS file cache and bytecode cache for both, not measured
    run_once(ours_cmd, 0, first_run=args.first_run)
    ours: list[Sample] = []
    bare: list[Sample] = []
    for i in range(args.runs):
        ours.append(run_once(ours_cmd, args.idle, first_run=args.first_run))
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
    ours_s, bare_s = med(ours, "shown_s"), med(bare, "shown_s")
    print(f"median time to show event: ours {ours_s * 1000:.0f} ms, bare {bare_s * 1000:.0f} ms")
    print(f"median time to first page: ours {ours_t * 1000:.0f} ms, bare {bare_t * 1000:.0f} ms")
    print(
        f"median CPU to first page: ours {ours_c * 1000:.0f} ms, bare {bare_c * 1000:.0f} ms"
        f" (ratio {ours_c / bare_c:.2f})"
    )
    print(f"median idle RSS after {args.idle:g} s: ours {ours_rss:.1f} MB, bare {bare_rss:.1f} MB")
    print(
        f"startup: ratio {ours_t / bare_t:.2f} rss_mb {ours_rss:.1f}"
        f" first_page_ms {ours_t * 1000:.0f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
