"""Start the GUI: one QApplication on a qasync loop, one window, one running copy per data folder.

Order matters for a fast, safe start: high-DPI policy before the QApplication exists; the
single-instance check before anything heavy (a second launch just wakes the first and leaves);
settings, theme and window next; heavy modules (web3, llama.cpp) only when a page needs them.

``MORPHEUS_BENCH_STARTUP=1`` makes the run print ``shown <monotonic>`` and ``cpu <seconds so far>``
once the window is on screen and ``rss <bytes>`` five seconds later, then quit;
``bench/startup.py`` reads those lines.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

# Plain-Python modules load before PySide6: once PySide6 is imported it inspects every module
# imported after it, which costs start-up time for nothing.
from app import __version__
from app.logsetup import setup_logging
from app.paths import AppPaths, app_paths
from app.services.context import AppContext
from app.storage.settings import SettingsStore

# isort: split
from PySide6.QtCore import QTimer, QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QApplication

if TYPE_CHECKING:
    import asyncio

    from app.ui.main_window import MainWindow

log = logging.getLogger(__name__)
_qt_log = logging.getLogger("qt")

BENCH_ENV = "MORPHEUS_BENCH_STARTUP"
BENCH_IDLE_ENV = "MORPHEUS_BENCH_IDLE_S"  # seconds before the RSS report; 5 unless set
SHUTDOWN_TIMEOUT_S = 5.0


def _qt_message(mode: QtMsgType, _context: Any, message: str) -> None:
    level = {
        QtMsgType.QtDebugMsg: logging.DEBUG,
        QtMsgType.QtInfoMsg: logging.INFO,
        QtMsgType.QtWarningMsg: logging.WARNING,
    }.get(mode, logging.ERROR)
    _qt_log.log(level, "%s", message)
    if mode == QtMsgType.QtFatalMsg:  # Qt aborts right after this: say why where it can be seen
        print(f"Morpheus Desktop stopped: {message}", file=sys.stderr, flush=True)


def _platform_problem() -> str | None:
    """What would make Qt's platform plugin abort here, in plain words (see qt_platform_check)."""
    from pathlib import Path

    from PySide6.QtCore import QLibraryInfo

    from app.ui.qt_platform_check import check_platform

    # Where Qt will look: QT_PLUGIN_PATH first (the frozen bundle sets it), then its own folder.
    dirs = [Path(p) for p in os.environ.get("QT_PLUGIN_PATH", "").split(os.pathsep) if p]
    dirs.append(Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)))
    plugins = next((d for d in dirs if (d / "platforms").is_dir()), dirs[-1])
    problem = check_platform(plugins)
    return problem.message if problem is not None else None


def _tell_without_qt(message: str) -> None:
    """Print the message; when started from a desktop icon (no terminal), also try a system
    message box that needs no Qt."""
    print(message, file=sys.stderr, flush=True)
    if sys.stderr is not None and sys.stderr.isatty():
        return
    import shutil
    import subprocess

    for tool, args in (
        ("zenity", ["--error", "--no-wrap", "--text", message]),
        ("kdialog", ["--error", message]),
        ("xmessage", ["-center", message]),
    ):
        exe = shutil.which(tool)
        if exe:
            with contextlib.suppress(OSError):
                subprocess.Popen([exe, *args], start_new_session=True)
            return


def create_application(argv: Sequence[str]) -> QApplication:
    """The QApplication with high-DPI policy, names and icon set (reuses an existing one)."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        app = existing
    else:
        # Qt 6 scales for high DPI by default; PassThrough keeps fractional factors (125 %, 150 %)
        # exact instead of rounding them. Set through the environment, which Qt reads at start,
        # so a user's own QT_SCALE_FACTOR_ROUNDING_POLICY still wins.
        os.environ.setdefault("QT_SCALE_FACTOR_ROUNDING_POLICY", "PassThrough")
        app = QApplication(list(argv))
    app.setOrganizationName("Morpheus")
    app.setApplicationName("MorpheusDesktop")
    app.setApplicationDisplayName("Morpheus Desktop")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("morpheus-desktop")
    from app.ui.icons import app_icon

    app.setWindowIcon(app_icon())
    # The window decides when to quit (tray mode keeps the program alive with no window).
    app.setQuitOnLastWindowClosed(False)
    return app


def _install_signal_handlers(loop: asyncio.AbstractEventLoop, quit_: Any) -> QTimer:
    """Ctrl+C / SIGTERM quit cleanly; the timer lets Python run its handlers while Qt waits."""

    def handler(_signum: int, _frame: Any) -> None:
        loop.call_soon_threadsafe(quit_)

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):  # not the main thread, or unsupported
            signal.signal(sig, handler)
    ticker = QTimer()
    ticker.start(500)
    ticker.timeout.connect(lambda: None)
    return ticker


def build_main_window(
    app: QApplication, paths: AppPaths, *, open_start_page_on_show: bool = True
) -> MainWindow:
    """Settings (with any load notice), theme, context and the window, not yet shown."""
    from app.ui.app_state import SETTINGS_STORE
    from app.ui.main_window import MainWindow
    from app.ui.theme import apply_theme

    store = SettingsStore.open(paths.settings_file)
    apply_theme(app, store.settings.theme)
    ctx = AppContext(paths=paths, settings=store.settings)
    ctx.extras[SETTINGS_STORE] = store
    window = MainWindow(ctx, open_start_page_on_show=open_start_page_on_show)
    ctx.extras["status"] = window.status_model
    ctx.extras["main_window"] = window
    from app.ui.api_switch import attach_api_switch

    attach_api_switch(ctx, store, window)  # the local API follows Settings' switch from launch
    notice = store.take_notice()
    if notice:
        window.show_notice(notice)
    return window


def run_gui(argv: Sequence[str]) -> int:
    bench = os.environ.get(BENCH_ENV) == "1"
    verbose = "--verbose" in argv or "-v" in argv
    setup_logging(verbose=verbose, console=verbose)
    paths = app_paths().ensure()
    qInstallMessageHandler(_qt_message)
    problem = _platform_problem()
    if problem is not None:
        log.error("the window cannot open: %s", problem)
        _tell_without_qt(problem)
        return 3
    app = create_application(argv)

    from app.ui.single_instance import SingleInstance

    guard = SingleInstance(paths)
    if not guard.acquire():
        if guard.notify_running():
            log.info("already running; asked the open window to come forward")
            print("Morpheus Desktop is already running; its window was brought forward.")
            return 0
        print(
            "Morpheus Desktop seems to be running already but does not answer. If it is stuck, "
            "end it and start again.",
            file=sys.stderr,
        )
        return 1

    window = build_main_window(app, paths, open_start_page_on_show=False)
    store = window.store
    if bench:
        _arm_bench(window)
    if store.settings.start_minimized and window.tray.available and not bench:
        log.info("starting hidden in the tray")
    else:
        window.show()
        # Put the window on screen now; the rest of start-up (asyncio, the instance socket, the
        # first page) happens while the user already sees it.
        app.processEvents()

    guard.listen()
    guard.activated.connect(window.bring_to_front)

    import asyncio

    from app.ui.error_dialog import ExceptionReporter
    from app.ui.qt_loop import QtEventLoop

    loop = QtEventLoop(app)
    asyncio.set_event_loop(loop)
    reporter = ExceptionReporter(lambda: window)
    reporter.install(loop)

    done = asyncio.Event()
    window.quit_requested.connect(done.set)
    app.aboutToQuit.connect(window.request_quit)
    ticker = _install_signal_handlers(loop, window.request_quit)
    # The first page may start async work, so it is built once the loop is in place; the
    # status bar's feed (chain, wallet) starts right after.
    loop.call_soon(window.open_start_page)
    loop.call_soon(_start_status_feed, window)
    log.info("Morpheus Desktop %s started (data in %s)", __version__, paths.data)

    try:
        with loop:
            loop.run_until_complete(done.wait())
            loop.run_until_complete(_shut_down(window.ctx))
    except RuntimeError as exc:  # the Qt loop ended first (session logout)
        log.info("event loop ended: %s", exc)
    finally:
        ticker.stop()
        reporter.uninstall()
        guard.release()
    log.info("Morpheus Desktop quit")
    return 0


def _start_status_feed(window: MainWindow) -> None:
    from app.ui.status_feed import attach_status_feed

    window.status_feed = attach_status_feed(window)
    if window.status_feed is not None:
        from app.ui.jobs_notice import JobsNotice

        window.jobs_notice = JobsNotice(window, window.status_feed.services)


async def _shut_down(ctx: AppContext) -> None:
    """Run the registered shutdown hooks, then cancel whatever tasks are still pending."""
    import asyncio

    from app.ui.app_state import shutdown_hooks

    for hook in shutdown_hooks(ctx):
        try:
            await asyncio.wait_for(hook(), SHUTDOWN_TIMEOUT_S)
        except Exception:
            log.exception("shutdown hook %r failed", hook)
    current = asyncio.current_task()
    pending = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        _done, still = await asyncio.wait(pending, timeout=SHUTDOWN_TIMEOUT_S)
        if still:
            log.warning("%d task(s) did not stop on quit", len(still))


def _arm_bench(window: Any) -> None:
    def shown() -> None:
        print(f"shown {time.monotonic():.6f}\ncpu {time.process_time():.6f}", flush=True)
        idle_s = float(os.environ.get(BENCH_IDLE_ENV, "5"))
        QTimer.singleShot(int(idle_s * 1000), report)

    def report() -> None:
        import psutil

        try:
            print(f"rss {psutil.Process().memory_info().rss}", flush=True)
        except OSError:  # the reader went away (closed pipe); quit all the same
            pass
        finally:
            window.request_quit()

    # After the first show event, once the event loop has painted the window.
    window.first_shown.connect(lambda: QTimer.singleShot(0, shown))
