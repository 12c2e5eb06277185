"""Start the GUI: one QApplication on a qasync loop, one window, one running copy per data folder.

Order matters for a fast, safe start: high-DPI policy before the QApplication exists; the
single-instance check before anything heavy (a second launch just wakes the first and leaves);
settings, theme and window next; the start page is built on Qt's own event loop and painted
with the window's first paint (:func:`_paint_first_page`); then the asyncio (qasync) loop, and on
its first turn whatever waited for that paint (:mod:`app.ui.first_paint`: async work the page
started too), the instance socket and the status feed (chain, wallet: the heavy imports); heavy
modules (web3, llama.cpp) only when a page needs them.

``MORPHEUS_BENCH_STARTUP=1`` makes the run print ``shown <monotonic>`` and ``cpu <seconds so far>``
once the window is on screen and ``rss <bytes>`` five seconds later, then quit;
``MORPHEUS_BENCH_MARK=1`` (with it) adds ``painted <monotonic>`` and ``painted_cpu <seconds>``
once the first page has painted with its content (see :func:`_arm_first_paint_mark`) and counts
the idle period from there. ``bench/startup.py`` reads those lines; without the variables none of
this code runs.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
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
    from types import ModuleType

    from app.ui.main_window import MainWindow


def _cheaper_pyside_module_scan() -> None:
    """PySide6 asks of every module imported after it whether its source mentions "PySide6"
    (for ``from __feature__ import ...``), through ``inspect.getsource``: about 0.3 ms a module,
    tens of milliseconds before the first paint. The same question on the file's bytes gives the
    same answer for a tenth of that; anything else (no ``.py`` file) still goes to PySide6's own
    test. Skipped when this PySide6 has no such test."""
    feature = sys.modules.get("shibokensupport.feature")
    original = getattr(feature, "_mod_uses_pyside", None)
    if feature is None or not callable(original):
        return

    def uses_pyside(module: ModuleType) -> bool:
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and path.endswith(".py"):
            try:
                with open(path, "rb") as f:
                    return b"PySide6" in f.read()
            except OSError:
                pass
        return bool(original(module))

    setattr(feature, "_mod_uses_pyside", uses_pyside)  # noqa: B010 (a private name of PySide6)


_cheaper_pyside_module_scan()

log = logging.getLogger(__name__)
_qt_log = logging.getLogger("qt")

BENCH_ENV = "MORPHEUS_BENCH_STARTUP"
BENCH_IDLE_ENV = "MORPHEUS_BENCH_IDLE_S"  # seconds before the RSS report; 5 unless set
BENCH_MARK_ENV = "MORPHEUS_BENCH_MARK"  # also print when the first page painted its content
# Signals by which a page that fills itself after it is built (the chat page's model picker)
# says its data is in; a page without one has its content once built, and one whose
# ``content_ready`` is already true when it is shown (filled as it was built) needs no signal.
_CONTENT_SIGNALS = ("content_loaded", "sources_changed")
SHUTDOWN_TIMEOUT_S = 5.0
# The instance socket and status feed wait for the first page's paint, but never longer.
STATUS_FEED_LATEST_MS = 3000


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
        # Fusion from the start (the themes are made for it; see app.ui.theme.apply_theme).
        app = QApplication([*(argv or ["morpheus-desktop"]), "-style", "fusion"])
        app.setProperty("morpheusStyle", "fusion")
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
    from app.ui.main_thread_gc import MainThreadCollector

    collector = MainThreadCollector(app)  # garbage is freed on this thread only (see its module)
    collector.start()

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

    from app.ui import first_paint

    first_paint.hold()  # what the first page does not need waits for its paint
    window = build_main_window(app, paths, open_start_page_on_show=False)
    store = window.store
    # The wallet lock's application-wide input filter hands every event of every object to
    # Python; the first such call for an object of a private Qt class makes PySide6 set up every
    # QObject class it knows (hundreds of enums, ~50 ms). No one types before the first page is
    # on screen, so the filter goes on after that paint (after_first_paint below).
    input_watch = getattr(window, "wallet_lock", None)
    if input_watch is not None:
        app.removeEventFilter(input_watch)
    if bench:
        _arm_bench(window, after_paint=os.environ.get(BENCH_MARK_ENV) == "1")
    from app.ui.crash_hook import CrashHook

    reporter = CrashHook(lambda: window)  # the report dialog's module loads on the first error
    reporter.install()  # the asyncio loop's handler too, once there is a loop
    app.aboutToQuit.connect(window.request_quit)
    quit_early: list[bool] = []  # (asked to quit while the first page was painting)
    window.quit_requested.connect(lambda: quit_early.append(True))
    if store.settings.start_minimized and window.tray.available and not bench:
        log.info("starting hidden in the tray")
    else:
        # No processEvents() here: the frame alone (no page yet) would be painted only to be
        # painted again a moment later; the first paint comes with the start page in it.
        window.show()
        _paint_first_page(window)

    import asyncio

    from app.ui.qt_loop import QtEventLoop

    loop = QtEventLoop(app)
    asyncio.set_event_loop(loop)
    reporter.attach_loop(loop)

    done = asyncio.Event()
    window.quit_requested.connect(done.set)
    if quit_early:
        done.set()
    ticker = _install_signal_handlers(loop, window.request_quit)

    # What the window needs soon but not for the first paint follows it: what waited for it
    # (app.ui.first_paint: async work the first page started, too), the instance socket
    # (QtNetwork; a second launch retries for seconds) and the status bar's feed (chain,
    # wallet: the heavy imports), then, on a later turn, the markdown renderer (before any
    # answer can stream).
    def after_first_paint() -> None:
        first_paint.release()
        if input_watch is not None:
            app.installEventFilter(input_watch)
        guard.listen()
        guard.activated.connect(window.bring_to_front)
        _start_status_feed(window)
        QTimer.singleShot(0, warm_chat_rendering)

    if not window.isVisible():  # started hidden in the tray: nothing to paint first
        loop.call_soon(window.open_first_page)  # (the welcome steps on a first start)
    loop.call_soon(after_first_paint)
    log.info("Morpheus Desktop %s started (data in %s)", __version__, paths.data)

    try:
        with loop:
            loop.run_until_complete(done.wait())
            loop.run_until_complete(_shut_down(window.ctx))
    except RuntimeError as exc:  # the Qt loop ended first (session logout)
        log.info("event loop ended: %s", exc)
    finally:
        first_paint.abandon()  # (quit before the first paint)
        ticker.stop()
        reporter.uninstall()
        guard.release()
        collector.stop()
    log.info("Morpheus Desktop quit")
    return 0


def _paint_first_page(window: MainWindow) -> None:
    """Build the first page (the welcome steps on a first start) and paint it, on Qt's own event
    loop: asyncio and qasync (~25 ms of imports) load after that paint. Async work the page
    starts meanwhile waits for the loop (``Op.run`` under :mod:`app.ui.first_paint`)."""
    from PySide6.QtCore import QEventLoop

    painting = QEventLoop()
    when_first_page_painted(window, painting.quit, latest_ms=STATUS_FEED_LATEST_MS)
    window.quit_requested.connect(painting.quit)
    QTimer.singleShot(0, window.open_first_page)
    painting.exec()
    window.quit_requested.disconnect(painting.quit)


def warm_chat_rendering() -> None:
    """Import and build the chat's markdown parser and the model picker's style enums while the
    window is idle, so the first answer or session does not pay for them mid-stream."""
    from app.ui.chat.markdown import render_markdown
    from app.ui.chat.picker import warm_style_enums

    render_markdown("")
    warm_style_enums()


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


def _arm_bench(window: MainWindow, *, after_paint: bool = False) -> None:
    """The bench lines; with ``after_paint`` the idle period counts from the first page's paint."""
    idle_ms = int(float(os.environ.get(BENCH_IDLE_ENV, "5")) * 1000)

    def shown() -> None:
        print(f"shown {time.monotonic():.6f}\ncpu {time.process_time():.6f}", flush=True)
        if not after_paint:
            QTimer.singleShot(idle_ms, report)

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
    if after_paint:
        _arm_first_paint_mark(window, lambda: QTimer.singleShot(idle_ms, report))


def when_first_page_painted(
    window: MainWindow, callback: Callable[[], None], *, latest_ms: int | None = None
) -> None:
    """Call ``callback`` once, from the event loop, when the start page has painted with its data
    in; with ``latest_ms``, at the latest that long from now (a page that never paints).

    The empty frame does not count: this waits for the first page to be put in the window's page
    stack, for its data (a page that fills itself after it is built emits one of
    ``_CONTENT_SIGNALS``), then for a paint event of that page; the callback runs once control is
    back in the event loop, so the whole window has been painted and flushed by then.
    """
    from PySide6.QtCore import QEvent, QObject

    state: dict[str, Any] = {"page": None, "ready": False, "done": False}

    def fire() -> None:
        if not state["done"]:
            state["done"] = True
            callback()

    class PaintWatch(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if state["ready"] and watched is state["page"] and event.type() == QEvent.Type.Paint:
                watched.removeEventFilter(self)
                QTimer.singleShot(0, fire)
            return False

    watch = PaintWatch(window)

    def content_in() -> None:
        if not state["ready"]:
            state["ready"] = True
            state["page"].update()  # a paint with the data in, even if nothing else asks for one

    def on_page(_index: int) -> None:
        page = window.stack.currentWidget()
        if state["page"] is not None or page is None:
            return
        window.stack.currentChanged.disconnect(on_page)
        state["page"] = page
        page.installEventFilter(watch)
        signal = next((getattr(page, n) for n in _CONTENT_SIGNALS if hasattr(page, n)), None)
        if signal is None or getattr(page, "content_ready", False):  # no data, or already in
            content_in()
        else:
            signal.connect(content_in)

    # The stack, not the sidebar: any first page counts (a sidebar page or the welcome steps).
    window.stack.currentChanged.connect(on_page)
    if latest_ms is not None:
        QTimer.singleShot(latest_ms, fire)


def _arm_first_paint_mark(window: MainWindow, then: Callable[[], None]) -> None:
    """``painted <monotonic>`` and ``painted_cpu`` once the start page painted its data."""

    def mark() -> None:
        print(f"painted {time.monotonic():.6f}\npainted_cpu {time.process_time():.6f}", flush=True)
        then()

    when_first_page_painted(window, mark)
