"""Quitting with sessions open: close them now (and get the stake back) or keep them open until
their end (closed the next time the program runs), with progress instead of a silent wait."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.errors import UserFacingError
from app.ui.ops import GENERIC_ERROR, Op

log = logging.getLogger(__name__)

CloseFn = Callable[..., Awaitable[Any]]


def _mor(wei: int) -> str:
    return f"{wei / 10**18:.4g} MOR"


class QuitDialog(QDialog):
    """Accepted: go on quitting (after closing, if chosen). Rejected (Esc): stay open."""

    def __init__(self, parent: QWidget | None, sessions: list[Any], close: CloseFn) -> None:
        super().__init__(parent)
        self.setObjectName("quitDialog")
        self.setWindowTitle("Sessions still open")
        self.sessions = sessions
        self._close = close
        self.task: asyncio.Future[None] | None = None
        self.errors: list[str] = []
        staked = sum(int(s.stake) for s in sessions)
        n = len(sessions)
        self.message = QLabel(
            f"{n} session{'s are' if n != 1 else ' is'} still open with {_mor(staked)} staked.\n"
            "Close now to get the unused stake back (today's share is held until the next UTC "
            "midnight and withdrawn automatically), or keep them open until their end: they are "
            "closed the next time Morpheus Desktop runs."
        )
        self.message.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, n)
        self.progress.setValue(0)
        self.progress.hide()
        self.step = QLabel("")
        self.step.setObjectName("quitStep")
        self.close_button = QPushButton(f"Close now (get up to {_mor(staked)} back)")
        self.close_button.setObjectName("quitCloseNow")
        self.keep_button = QPushButton("Keep open until their end")
        self.keep_button.setObjectName("quitKeepOpen")
        self.close_button.clicked.connect(self.close_now)
        self.keep_button.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.keep_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addWidget(self.progress)
        layout.addWidget(self.step)
        layout.addLayout(buttons)

    def close_now(self) -> None:
        if self.task is not None and not self.task.done():
            return  # one close per session, however often the button is pressed
        self.close_button.setEnabled(False)
        self.keep_button.setEnabled(False)
        self.progress.show()
        # keep_running: closing the dialog (Esc) must not stop a close half-way.
        self.task = Op(self._close_all(), self, name="close sessions on quit").keep_running().run()

    async def _close_all(self) -> None:
        n = len(self.sessions)
        for i, rec in enumerate(self.sessions, 1):
            self.step.setText(f"Closing session {i} of {n}…")
            try:
                await self._close(rec.session_id, on_step=self.step.setText)
            except UserFacingError as exc:
                # The close job stays scheduled: it is retried at the next start.
                self.errors.append(exc.message)
                log.warning("close on quit failed: %s", exc.detail or exc.message)
            except Exception:  # whatever it was, quitting goes on (the job retries next start)
                log.exception("close on quit failed")
                self.errors.append(GENERIC_ERROR)
            self.progress.setValue(i)
        self.step.setText("Done." if not self.errors else
                          "Some sessions could not be closed now; they are closed at the next "
                          "start.")
        self.accept()
