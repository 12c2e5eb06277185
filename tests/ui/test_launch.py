"""Start-up paths a user meets: a damaged settings file, a second launch, the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

from app.ui.single_instance import SingleInstance
from tests.ui.conftest import REPO_ROOT, paths_under, subprocess_env


def test_corrupt_settings_start_on_defaults_and_say_so_once(make_window, qtbot, paths):
    paths.settings_file.write_text('{"theme": "dark", "network": ')  # cut off mid-write
    window = make_window()
    window.show()
    qtbot.waitExposed(window)

    bad = sorted(paths.config.glob("settings.json.bad-*"))
    assert len(bad) == 1
    assert bad[0].read_text() == '{"theme": "dark", "network": '
    assert window.settings.theme == "system", "defaults are in use"
    assert window.notice_bar.isVisible()
    assert bad[0].name in window.notice_bar.label.text()

    second = make_window()
    second.show()
    qtbot.waitExposed(second)
    assert not second.notice_bar.isVisible(), "the notice is shown once, not at every start"
    assert sorted(paths.config.glob("settings.json.bad-*")) == bad


def test_second_launch_raises_first_window_and_exits_zero(make_window, qtbot, home, paths):
    guard = SingleInstance(paths)
    assert guard.acquire()
    try:
        assert guard.listen() and guard.is_listening
        window = make_window()
        guard.activated.connect(window.bring_to_front)
        assert not window.isVisible()

        assert not SingleInstance(paths).acquire(), "a second guard on the same data must lose"

        start = time.monotonic()
        with qtbot.waitSignal(guard.activated, timeout=30_000):
            proc = subprocess.Popen(
                [sys.executable, "-m", "app"],
                cwd=REPO_ROOT,
                env=subprocess_env(home),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=30_000)
        elapsed = time.monotonic() - start
        out, err = proc.communicate()
        assert proc.returncode == 0, err
        assert "already running" in out
        assert window.isVisible(), "the first instance showed its window"
        assert elapsed < 20, f"second launch took {elapsed:.1f}s"
    finally:
        guard.release()
    other = SingleInstance(paths)
    assert other.acquire(), "released lock can be taken again"
    other.release()


def test_lock_left_by_a_crashed_instance_does_not_block(tmp_path, qapp):
    paths = paths_under(tmp_path / "home")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from PySide6.QtCore import QLockFile
                lock = QLockFile({str(paths.data / "instance.lock")!r})
                lock.setStaleLockTime(0)
                assert lock.tryLock(0)
                print("locked", flush=True)
                sys.stdin.read()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert not SingleInstance(paths).acquire(), "a live holder keeps the lock"
    finally:
        holder.kill()  # a crash: the lock file stays on disk
        holder.wait()
        for pipe in (holder.stdin, holder.stdout):
            if pipe is not None:
                pipe.close()
    assert (paths.data / "instance.lock").exists()
    guard = SingleInstance(paths)
    assert guard.acquire(), "the stale lock of a dead process is taken over"
    guard.release()


def test_real_entry_point_shows_window_reports_memory_and_exits(home):
    """``python -m app`` end to end: qasync loop, window shown, status feed, clean quit, logs."""
    config = home / "config"
    config.mkdir(parents=True)
    # The devnet without its network file: the status feed's connection attempt fails at once,
    # without touching any real network.
    (config / "settings.json").write_text(json.dumps({"network": "devnet", "theme": "dark"}))
    proc = subprocess.run(
        [sys.executable, "-m", "app"],
        cwd=REPO_ROOT,
        env=subprocess_env(home, MORPHEUS_BENCH_STARTUP="1", MORPHEUS_BENCH_IDLE_S="1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    values = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    assert list(values) == ["shown", "cpu", "rss"]
    assert float(values["shown"]) > 0 and float(values["cpu"]) > 0
    assert int(values["rss"]) > 10_000_000
    log_text = (home / "logs" / "morpheus.log").read_text()
    assert "Morpheus Desktop quit" in log_text
    assert "devnet is not running" in log_text, "the status feed tried to connect"
    assert " qt: " not in log_text and " ERROR " not in log_text, log_text
    assert not (home / "data" / "instance.lock").exists(), "the lock is released on quit"
    saved = json.loads((config / "settings.json").read_text())
    assert saved["theme"] == "dark" and saved["last_page"] == "chat"


def test_window_creation_does_not_import_heavy_modules(home):
    code = textwrap.dedent(
        """
        import sys
        from app.paths import app_paths
        from app.ui.launch import build_main_window, create_application
        app = create_application([])
        window = build_main_window(app, app_paths().ensure())
        window.show()  # pages are built after this, on the event loop
        heavy = sorted(m for m in ("web3", "llama_cpp", "eth_account", "openai", "aiohttp")
                       if m in sys.modules)
        print("heavy:", ",".join(heavy))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=subprocess_env(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "heavy:", proc.stdout


async def test_quit_runs_shutdown_hooks_then_cancels_tasks(tmp_path, monkeypatch):
    import asyncio

    from app.services.context import AppContext
    from app.ui import launch
    from app.ui.app_state import register_shutdown

    monkeypatch.setattr(launch, "SHUTDOWN_TIMEOUT_S", 0.5)
    ctx = AppContext(paths=paths_under(tmp_path / "home"))
    order: list[str] = []

    async def closes_sessions() -> None:
        order.append("hook")

    async def hangs() -> None:
        await asyncio.Event().wait()

    async def fails() -> None:
        raise RuntimeError("broken hook")

    register_shutdown(ctx, fails)
    register_shutdown(ctx, hangs)
    register_shutdown(ctx, closes_sessions)
    background = asyncio.create_task(asyncio.Event().wait())
    await launch._shut_down(ctx)
    assert order == ["hook"], "a failing or hanging hook does not stop the others"
    assert background.cancelled()
