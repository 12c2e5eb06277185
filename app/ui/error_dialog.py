"""Unexpected exceptions end in a dialog the user can copy a report from, not a silent crash.

Every path an unexpected error can take is covered: the main thread (``sys.excepthook``, which
PySide6 also calls for exceptions raised in slots), other threads (``threading.excepthook``) and
the asyncio loop (its exception handler). Each report gets a short trace id that is also written to
the log, and everything in it passes through the log redactor before it is shown.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import sys
import threading
import traceback
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import __version__
from app.errors import UserFacingError
from app.logsetup import redact
from app.ui.hook_slots import HookSlots

log = logging.getLogger(__name__)


def build_report(
    exc_type: type[BaseException] | None,
    exc: BaseException | None,
    tb: TracebackType | None,
    *,
    trace_id: str,
    context: str = "",
) -> str:
    """Plain-text report: what failed, where, and on what versions; secrets scrubbed."""
    lines = [
        f"Morpheus Desktop {__version__} — error report {trace_id}",
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"PySide6 {pyside_version}",
        f"Platform: {platform.platform()} ({platform.machine()})",
    ]
    if context:
        lines.append(f"Context: {context}")
    lines.append("")
    if exc is not None:
        lines.extend(
            s.rstrip("\n") for s in traceback.format_exception(exc_type or type(exc), exc, tb)
        )
    return redact("\n".join(lines)) + "\n"


class ErrorDialog(QDialog):
    """Shows one or more reports; ``Copy report`` puts all of them on the clipboard."""

    def __init__(self, headline: str, report: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorDialog")
        self.setWindowTitle("Morpheus Desktop — something went wrong")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setModal(False)
        self.resize(640, 420)
        self.headline = QLabel(headline)
        self.headline.setWordWrap(True)
        self.headline.setObjectName("errorHeadline")
        hint = QLabel(
            "The program keeps running. If this keeps happening, copy the report and send it "
            "with a description of what you were doing. It contains no keys or passwords."
        )
        hint.setWordWrap(True)
        hint.setProperty("role", "hint")
        self.report_view = QPlainTextEdit(report)
        self.report_view.setReadOnly(True)
        self.report_view.setObjectName("errorReport")
        self.report_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        # The report is for whoever fixes the program: behind "Details", closed at first.
        self.report_view.setProperty("details", True)
        self.report_view.setAccessibleName("Error report")
        self.report_view.hide()
        self.details_button = QPushButton("Show details")
        self.details_button.setObjectName("errorDetails")
        self.details_button.setCheckable(True)
        self.details_button.toggled.connect(self._show_details)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("Copy report")
        self.copy_button.setObjectName("copyReport")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.details_button, QDialogButtonBox.ButtonRole.HelpRole)
        self.copy_button.clicked.connect(self.copy_report)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addWidget(hint)
        layout.addWidget(self.report_view, 100)
        layout.addStretch(1)  # takes the room while the details are closed
        layout.addWidget(buttons)
        self.count = 1

    def _show_details(self, on: bool) -> None:
        self.report_view.setVisible(on)
        self.details_button.setText("Hide details" if on else "Show details")

    def report(self) -> str:
        return self.report_view.toPlainText()

    def add_report(self, headline: str, report: str) -> None:
        self.count += 1
        self.headline.setText(f"{headline}\n({self.count} errors since this window opened)")
        self.report_view.appendPlainText("\n" + "-" * 60 + "\n" + report)

    def copy_report(self) -> None:
        QGuiApplication.clipboard().setText(self.report())
        self.copy_button.setText("Copied")


class ExceptionReporter(QObject, HookSlots):
    """Installs the hooks and shows reports in the GUI thread (signals hop threads safely)."""

    _reported = Signal(str, str)  # headline, report
    dialog_shown = Signal(object)  # ErrorDialog

    def __init__(self, parent_widget: Callable[[], QWidget | None] = lambda: None) -> None:
        super().__init__()
        self._parent_widget = parent_widget
        self.dialog: ErrorDialog | None = None
        self._reported.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def handle_exception(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
        context: str = "",
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        trace_id = uuid.uuid4().hex[:8]
        report = build_report(exc_type, exc, tb, trace_id=trace_id, context=context)
        log.error("unexpected error [%s]\n%s", trace_id, report)
        if isinstance(exc, UserFacingError):
            headline = exc.message
        else:
            headline = f"Something went wrong (report {trace_id})."
        self._reported.emit(redact(headline), report)

    def _thread_hook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None:
            return
        name = args.thread.name if args.thread is not None else "?"
        self.handle_exception(
            args.exc_type, args.exc_value, args.exc_traceback, context=f"thread {name}"
        )

    def handle_loop_exception(
        self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]
    ) -> None:
        exc = context.get("exception")
        message = str(context.get("message", "asyncio error"))
        if isinstance(exc, BaseException):
            self.handle_exception(type(exc), exc, exc.__traceback__, context=message)
        else:
            self.handle_exception(RuntimeError, RuntimeError(message), None, context="asyncio")

    def _show(self, headline: str, report: str) -> None:
        if self.dialog is not None:
            self.dialog.add_report(headline, report)
            self.dialog.raise_()
            return
        dialog = ErrorDialog(headline, report, self._parent_widget())
        dialog.destroyed.connect(self._dialog_gone)
        self.dialog = dialog
        dialog.show()
        self.dialog_shown.emit(dialog)

    def _dialog_gone(self) -> None:
        self.dialog = None
