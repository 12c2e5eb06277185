"""Installer benchmark: size of each artifact of ``make dist`` and the bundle's start-up time next
to the same start from the virtual environment, measured in the same run.

Start-up is the launcher's own measure (``MORPHEUS_BENCH_STARTUP=1``: the child prints ``shown
<monotonic>`` once the window's first show has been processed, as ``bench/startup.py`` reads it),
from process start, on a fresh data folder each time, offscreen. Bundle and venv runs alternate so
both see the same machine load; one unmeasured run of each warms the OS file cache first (so this
is a fresh process, not a cold disk). Last line:
``bundle: size_mb <largest artifact> start_ratio <bundle/venv>``.

    python bench/bundle.py [--runs 5]     (after `make dist`)
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
DIST = REPO / "dist"
BUNDLE = DIST / "morpheus-desktop" / "morpheus-desktop"
PYCACHE = Path(tempfile.gettempdir()) / "morpheus-bench-pycache"


def dir_size(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if not p.is_symlink() and p.is_file())


def start_s(cmd: list[str]) -> float:
    with tempfile.TemporaryDirectory(prefix="morpheus-bench-") as home:
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)  # compiled once, as pip does on install
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        env.update(MORPHEUS_HOME=home, MORPHEUS_BENCH_STARTUP="1", MORPHEUS_BENCH_IDLE_S="0")
        t0 = time.monotonic()
        proc = subprocess.run(cmd, cwd=home, env=env, capture_output=True, text=True, timeout=180)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    shown = next(line for line in proc.stdout.splitlines() if line.startswith("shown "))
    return float(shown.split()[1]) - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not BUNDLE.is_file():
        print("bench/bundle.py: no bundle in dist/; run `make dist` first", file=sys.stderr)
        return 2

    artifacts = sorted(
        p
        for p in DIST.iterdir()
        if p.is_file() and p.name.endswith((".tar.gz", ".deb", ".AppImage"))
    )
    for p in artifacts:
        print(f"artifact {p.name}: {p.stat().st_size / 1e6:.1f} MB")
    installed = dir_size(BUNDLE.parent) / 1e6
    model = sum(p.stat().st_size for p in BUNDLE.parent.rglob("*.gguf")) / 1e6
    print(f"installed bundle: {installed:.1f} MB on disk (of which the model {model:.1f} MB)")
    largest = max((p.stat().st_size / 1e6 for p in artifacts), default=installed)

    bundle_cmd = [str(BUNDLE)]
    venv_cmd = [str(REPO / ".venv" / "bin" / "python"), "-m", "app"]
    # PYTHONPATH so the venv run starts this checkout's code, as the bundle froze it.
    os.environ["PYTHONPATH"] = str(REPO)
    start_s(bundle_cmd)  # warm the file cache for both, not measured
    start_s(venv_cmd)
    ours: list[float] = []
    venv: list[float] = []
    for i in range(args.runs):
        ours.append(start_s(bundle_cmd))
        venv.append(start_s(venv_cmd))
        print(f"run {i + 1}: bundle {ours[-1] * 1000:.0f} ms | venv {venv[-1] * 1000:.0f} ms")
    b, v = statistics.median(ours), statistics.median(venv)
    print(f"median start to window: bundle {b * 1000:.0f} ms, venv {v * 1000:.0f} ms")
    print(f"bundle: size_mb {largest:.0f} start_ratio {b / v:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
