"""The Linux artifacts of ``make dist``, run as a user would get them: only under ``make
dist-check`` (see conftest.py); each test starts the frozen program, which takes seconds.

- the bundle copied away from the checkout, into a read-only folder with a non-ASCII name, run
  with a bare environment (``env -i`` style: fresh HOME, PATH=/usr/bin:/bin, no locale, no .venv,
  no D-Bus so no keyring, no GPU here) and, when the tests run as root, as an unprivileged user
  so that "read-only" really is: ``--selftest`` passes and says what is missing in words;
- the .deb unpacked with ``dpkg-deb -x`` runs ``--selftest``, and has its menu entry, icon,
  ``morpheus`` command and the dependencies of Qt's X11 plugin declared;
- the tarball's ``install.sh`` adds a menu entry pointing at the unpacked folder;
- under Xvfb the window appears (an X screenshot that is not blank), a second start brings the
  first forward instead of opening twice, and the user's files survive both.
"""

from __future__ import annotations

import os
import pwd
import select
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "dist"
NAME = "morpheus-desktop"
BUNDLE = DIST / NAME
AS_ROOT = os.geteuid() == 0


def artifact(pattern: str) -> Path:
    found = sorted(DIST.glob(pattern))
    assert found, f"dist/{pattern} is missing: run `make dist` first"
    return found[-1]


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    """A world-readable scratch folder (pytest's own are private to root, and some tests run the
    program as an unprivileged user)."""
    assert (BUNDLE / NAME).is_file(), "dist/morpheus-desktop is missing: run `make dist` first"
    base = Path(tempfile.mkdtemp(prefix="morpheus-dist-check-", dir="/tmp"))
    base.chmod(0o755)
    yield base
    subprocess.run(["chmod", "-R", "u+w", str(base)], check=False)
    shutil.rmtree(base, ignore_errors=True)


def user_home(base: Path, name: str) -> Path:
    home = base / name
    home.mkdir()
    if AS_ROOT:
        nobody = pwd.getpwnam("nobody")
        os.chown(home, nobody.pw_uid, nobody.pw_gid)
    return home


def bare_env(home: Path, **extra: str) -> dict[str, str]:
    """What ``env -i HOME=... PATH=/usr/bin:/bin`` leaves."""
    return {"HOME": str(home), "PATH": "/usr/bin:/bin", **extra}


def as_user(cmd: list[str]) -> list[str]:
    """Run as ``nobody`` when we are root, so that read-only folders are read-only."""
    if not AS_ROOT:
        return cmd
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", *cmd]


def run_selftest(exe: Path, home: Path, cwd: Path) -> str:
    proc = subprocess.run(
        as_user([str(exe), "--selftest"]),
        cwd=cwd,
        env=bare_env(home),
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    print(proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1].startswith("selftest: ok"), proc.stdout
    return proc.stdout


def tree_state(root: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(root).as_posix(): (p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in root.rglob("*")
    }


def test_bundle_selftest_from_a_read_only_non_ascii_folder_in_a_bare_environment(
    scratch: Path,
) -> None:
    install = scratch / "Programme für Zoë 测试" / NAME
    shutil.copytree(BUNDLE, install, symlinks=True)
    subprocess.run(["chmod", "-R", "a-w", str(install.parent)], check=True)
    before = tree_state(install)
    home = user_home(scratch, "home-bare")
    out = run_selftest(install / NAME, home, cwd=scratch)
    assert "installed bundle in " + str(install) in out
    # What this machine lacks is said in words, and is not a failure.
    assert "no system keyring" in out
    assert "runs on the CPU" in out
    assert tree_state(install) == before, "the program wrote into its install folder"
    assert (home / ".local" / "share" / "MorpheusDesktop").is_dir(), "per-user data folder"


def test_deb_unpacked_runs_selftest_and_declares_what_it_needs(scratch: Path) -> None:
    deb = artifact(f"{NAME}_*.deb")
    root = scratch / "deb-root"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    depends = subprocess.run(
        ["dpkg-deb", "-f", str(deb), "Depends"], check=True, capture_output=True, text=True
    ).stdout
    for pkg in ("libxcb-icccm4", "libxcb-keysyms1", "libxkbcommon-x11-0", "libegl1"):
        assert pkg in depends
    desktop = (root / "usr/share/applications" / f"{NAME}.desktop").read_text()
    assert f"Exec=/opt/{NAME}/{NAME}" in desktop and f"Icon={NAME}" in desktop
    assert (root / "usr/share/icons/hicolor/scalable/apps" / f"{NAME}.svg").is_file()
    assert os.readlink(root / "usr/bin/morpheus") == f"/opt/{NAME}/{NAME}"
    exe = root / "opt" / NAME / NAME
    home = user_home(scratch, "home-deb")
    run_selftest(exe, home, cwd=scratch)
    # Installed as /usr/bin/morpheus, the same executable is the headless CLI.
    link = scratch / "bin" / "morpheus"
    link.parent.mkdir()
    link.symlink_to(exe)
    proc = subprocess.run(
        [str(link), "--version"], env=bare_env(home), capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and proc.stdout.startswith("morpheus "), proc.stderr


def test_tarball_install_script_adds_a_menu_entry(scratch: Path) -> None:
    tarball = artifact(f"{NAME}-*-linux-*.tar.gz")
    dest = scratch / "unpacked with space"
    with tarfile.open(tarball) as tar:
        tar.extractall(dest, filter="tar")
    folder = dest / NAME
    assert (folder / NAME).is_file() and (folder / f"{NAME}.svg").is_file()
    data = scratch / "xdg-data"
    env = bare_env(scratch, XDG_DATA_HOME=str(data))
    subprocess.run([str(folder / "install.sh")], env=env, check=True, capture_output=True)
    entry = (data / "applications" / f"{NAME}.desktop").read_text()
    assert f'Exec="{folder}/{NAME}"' in entry
    assert (data / "icons/hicolor/scalable/apps" / f"{NAME}.svg").is_file()
    subprocess.run([str(folder / "install.sh"), "--remove"], env=env, check=True)
    assert not (data / "applications" / f"{NAME}.desktop").exists()


class Xvfb:
    def __init__(self, base: Path) -> None:
        self.display = ""
        for n in range(91, 120):
            if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
                self.display = f":{n}"
                break
        assert self.display, "no free X display number"
        self.proc = subprocess.Popen(
            ["Xvfb", self.display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while not Path(f"/tmp/.X11-unix/X{self.display[1:]}").exists():
            assert time.monotonic() < deadline, "Xvfb did not start"
            assert self.proc.poll() is None, "Xvfb exited"
            time.sleep(0.05)

    def screenshot(self, path: Path) -> int:
        """Save the whole screen; return how many distinct colours the page area has (right of
        the sidebar, where the first page paints: an empty frame has a handful)."""
        subprocess.run(
            ["import", "-display", self.display, "-window", "root", str(path)],
            check=True,
            capture_output=True,
            timeout=30,
        )
        out = subprocess.run(
            ["convert", str(path), "-crop", "800x600+260+40", "-format", "%k", "info:"],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout
        return int(out.strip())

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def wait_for_line(proc: subprocess.Popen[str], prefix: str, timeout: float) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if line.startswith(prefix):
                return line
            if not line and proc.poll() is not None:
                break
    raise AssertionError(f"no {prefix!r} line; exit {proc.poll()}")


def test_window_appears_under_xvfb_and_a_second_start_keeps_one_window(scratch: Path) -> None:
    home = scratch / "home-x"
    wallet = home / "data" / "wallet"
    wallet.mkdir(parents=True)
    keystore = wallet / "keystore.json"
    keystore.write_text('{"address": "user data that must survive"}')
    screen = Xvfb(scratch)
    env = bare_env(
        scratch,
        DISPLAY=screen.display,
        MORPHEUS_HOME=str(home),
        MORPHEUS_BENCH_STARTUP="1",
        MORPHEUS_BENCH_IDLE_S="120",
    )
    first = subprocess.Popen(
        [str(BUNDLE / NAME)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_for_line(first, "shown", 60)
        shot = DIST / "xvfb-window.png"
        deadline = time.monotonic() + 30
        colours = screen.screenshot(shot)
        while colours < 100 and time.monotonic() < deadline:  # until the first page paints
            time.sleep(0.5)
            colours = screen.screenshot(shot)
        assert colours >= 100, f"the page looks blank ({colours} colours): see {shot}"

        second = subprocess.run(
            [str(BUNDLE / NAME)],
            env={**env, "MORPHEUS_BENCH_STARTUP": "0"},
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert second.returncode == 0, second.stderr
        assert "already running" in second.stdout
        assert first.poll() is None, "the first window is still open"
    finally:
        first.send_signal(signal.SIGTERM)
        try:
            rc = first.wait(30)
        finally:
            if first.poll() is None:
                first.kill()
            screen.stop()
            errors = first.stderr.read() if first.stderr else ""
            for pipe in (first.stdout, first.stderr):
                if pipe is not None:
                    pipe.close()
    assert rc == 0, errors
    assert keystore.read_text() == '{"address": "user data that must survive"}'
