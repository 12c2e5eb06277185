"""Unexpected errors end in a dialog with a copyable, secret-free report."""

from __future__ import annotations

import asyncio
import platform
import sys
import threading

from PySide6.QtWidgets import QApplication

from app import __version__
from app.errors import UserFacingError
from app.logsetup import register_secret
from app.ui.error_dialog import ExceptionReporter

SECRET_KEY = "0x" + "ab" * 32


def _raise_and_capture(exc: BaseException):
    try:
        raise exc
    except BaseException:
        return sys.exc_info()


def test_exception_shows_dialog_with_copyable_redacted_report(make_window, qtbot):
    window = make_window()
    window.show()
    reporter = ExceptionReporter(lambda: window)
    register_secret("hunter2-passphrase")
    info = _raise_and_capture(
        ValueError(f"boom private_key={SECRET_KEY} pw hunter2-passphrase")
    )
    with qtbot.waitSignal(reporter.dialog_shown, timeout=5_000) as shown:
        reporter.handle_exception(*info)
    dialog = shown.args[0]
    qtbot.addWidget(dialog)
    report = dialog.report()
    assert "ValueError: boom" in report
    assert "_raise_and_capture" in report, "the traceback is included"
    assert __version__ in report and platform.system() in report
    assert SECRET_KEY not in report and "hunter2-passphrase" not in report
    assert "[REDACTED]" in report
    assert dialog.isVisible() and dialog.parent() is window

    dialog.copy_button.click()
    assert QApplication.clipboard().text() == report

    # A second error goes into the same dialog instead of stacking windows.
    with qtbot.waitSignal(reporter._reported, timeout=5_000):
        reporter.handle_exception(*_raise_and_capture(KeyError("second")))
    QApplication.processEvents()
    assert reporter.dialog is dialog
    assert "KeyError: 'second'" in dialog.report()
    assert "2 errors" in dialog.headline.text()


def test_user_facing_error_shows_its_message(qtbot):
    reporter = ExceptionReporter()
    with qtbot.waitSignal(reporter.dialog_shown, timeout=5_000) as shown:
        reporter.handle_exception(*_raise_and_capture(UserFacingError("The node is offline.")))
    dialog = shown.args[0]
    qtbot.addWidget(dialog)
    assert dialog.headline.text() == "The node is offline."


def test_hooks_catch_thread_and_asyncio_errors_and_uninstall(qtbot):
    reporter = ExceptionReporter()
    loop = asyncio.new_event_loop()
    old_sys, old_thread = sys.excepthook, threading.excepthook
    reporter.install(loop)
    try:
        assert sys.excepthook == reporter.handle_exception

        def worker() -> None:
            raise RuntimeError("from a worker thread")

        with qtbot.waitSignal(reporter.dialog_shown, timeout=5_000) as shown:
            t = threading.Thread(target=worker, name="bg-worker")
            t.start()
            t.join()
        dialog = shown.args[0]
        qtbot.addWidget(dialog)
        assert "RuntimeError: from a worker thread" in dialog.report()
        assert "thread bg-worker" in dialog.report()

        with qtbot.waitSignal(reporter._reported, timeout=5_000):
            loop.call_exception_handler(
                {"message": "Task exception was never retrieved", "exception": OSError("io")}
            )
        QApplication.processEvents()
        assert "OSError: io" in dialog.report()
        assert "Task exception was never retrieved" in dialog.report()
    finally:
        reporter.uninstall()
        loop.close()
    assert sys.excepthook is old_sys and threading.excepthook is old_thread
