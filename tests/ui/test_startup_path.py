"""The start-up path: the first page paints before the chain, wallet and p2p stacks load, and the
idle window does not load what only signing or a network session needs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.ui.conftest import REPO_ROOT, subprocess_env

# What only a network session, a signature or a key file needs.
NETWORK_STACK = ("eth_account", "eth_utils", "aiohttp", "py_ecc", "cryptography", "web3")
# What the idle window (status bar connected, Chat page open) never uses.
NOT_AT_IDLE = ("eth_account", "py_ecc", "cryptography", "web3", "llama_cpp", "numpy")


def run_python(code: str, home) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO_ROOT,
        env=subprocess_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_chat_page_builds_without_the_network_stack(home):
    """The Chat page is the usual first page: building it loads none of the network stack (the
    network side is installed after its first paint, see app.ui.chat.network_side)."""
    out = run_python(
        f"""
        import sys
        from app.paths import app_paths
        from app.services.context import AppContext
        from app.ui.launch import create_application
        app = create_application([])
        from app.ui.chat_page import ChatPage
        page = ChatPage(AppContext(paths=app_paths().ensure()))
        page.show()
        app.processEvents()
        print("loaded", ",".join(m for m in {NETWORK_STACK!r} if m in sys.modules) or "-")
        print("network_side", getattr(page, "remote_panel", None) is not None)
        """,
        home,
    )
    assert out.splitlines() == ["loaded -", "network_side False"], out


def test_entry_point_paints_first_page_then_idles_light(home):
    """``python -m app`` on a fresh data folder: the Chat page paints with its data, the status
    feed starts after that, and the idle window holds no signing, key-file or model code."""
    config = home / "config"
    config.mkdir(parents=True)
    # The devnet without its network file: the status feed's connection attempt fails at once.
    # A returning user: the welcome steps were done, so the start page is Chat.
    (config / "settings.json").write_text(json.dumps({"network": "devnet", "welcome_done": True}))
    code = f"""
        import sys, runpy
        from PySide6.QtCore import QTimer
        import app.ui.launch as launch

        def arm(window, then):
            def report_modules():
                heavy = [m for m in {NOT_AT_IDLE!r} if m in sys.modules]
                print("idle_heavy " + (",".join(heavy) or "-"), flush=True)
                print("network_side " + str(window.pages["chat"].remote_panel is not None))
                from PySide6.QtCore import QEvent, Qt
                from PySide6.QtGui import QKeyEvent
                from PySide6.QtWidgets import QApplication
                key = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_A, Qt.KeyboardModifier.NoModifier)
                QApplication.sendEvent(window.pages["chat"], key)
                print("input_watched " + str(window.wallet_lock._last_input > 0))
                then()
            original(window, lambda: QTimer.singleShot(3000, report_modules))

        original = launch._arm_first_paint_mark
        launch._arm_first_paint_mark = arm
        sys.argv = ["app"]
        runpy.run_module("app", run_name="__main__")
        """
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO_ROOT,
        env=subprocess_env(
            home, MORPHEUS_BENCH_STARTUP="1", MORPHEUS_BENCH_MARK="1", MORPHEUS_BENCH_IDLE_S="0"
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    values = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    assert list(values) == [
        "shown",
        "cpu",
        "painted",
        "painted_cpu",
        "idle_heavy",
        "network_side",
        "input_watched",
        "rss",
    ], proc.stdout
    assert float(values["painted"]) >= float(values["shown"])
    assert values["idle_heavy"] == "-", "the idle window loaded " + values["idle_heavy"]
    assert values["network_side"] == "True", "the network side follows the first paint"
    assert values["input_watched"] == "True", "typing keeps the wallet unlocked once painted"
    log_text = (home / "logs" / "morpheus.log").read_text()
    assert "devnet is not running" in log_text, "the status feed started after the paint"
    assert " ERROR " not in log_text, log_text
