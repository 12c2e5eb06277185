"""The session bar above the transcript: provider, countdown, stake and Close while a session is
open; what came back and what is held until when once it closed."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.errors import UserFacingError
from app.services.remote_chat import RemoteChat, RemoteState, short_address
from app.storage.sessions import SessionRecord
from app.ui.chat.open_session import ERROR_STYLE
from app.ui.formatting import hms, local_time, mor
from app.ui.ops import Op

TICK_MS = 1000


def closed_text(rec: SessionRecord) -> str:
    text = f"Session closed. {mor(rec.refunded)} came back to your wallet now"
    if rec.on_hold:
        until = local_time(rec.on_hold_until) if rec.on_hold_until else "the next UTC midnight"
        text += f"; {mor(rec.on_hold)} is held until {until} and then returned automatically"
    return text + "."


class SessionBar(QFrame):
    """Shown while a session is open (provider, countdown hh:mm:ss, stake, Close) and after it
    closed (what came back and what is held until when)."""

    ticked = Signal(str)  # the countdown text, after each update

    def __init__(self, remote: RemoteChat | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.remote: RemoteChat | None = None
        self._watched: set[int] = set()
        self.close_task: asyncio.Task[Any] | None = None
        self.provider_label = QLabel("")
        self.provider_label.setWordWrap(True)
        self.timer_label = QLabel("")
        self.timer_label.setToolTip("Time left in this session")
        self.stake_label = QLabel("")
        self.close_button = QPushButton("Close session")
        self.close_button.setToolTip("End the session now and get the unused stake back")
        self.close_button.setAccessibleName("Close session")
        self.timer_label.setAccessibleName("Time left in this session")
        self.result_label = QLabel("")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QHBoxLayout()
        row.addWidget(self.provider_label, 1)
        row.addWidget(self.timer_label)
        row.addWidget(self.stake_label)
        row.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addLayout(row)
        layout.addWidget(self.result_label)
        self._tick = QTimer(self)
        self._tick.setInterval(TICK_MS)
        self._tick.timeout.connect(self.update_view)
        self.close_button.clicked.connect(self._on_close)
        self.set_remote(remote)

    def set_remote(self, remote: RemoteChat | None) -> None:
        if remote is not None and id(remote) not in self._watched:
            self._watched.add(id(remote))
            remote.on_change(functools.partial(self._changed, remote))
        self.remote = remote
        self.update_view()

    def _changed(self, remote: RemoteChat) -> None:
        if remote is self.remote:
            self.update_view()

    def update_view(self) -> None:
        remote = self.remote
        if remote is None or (not remote.is_open and remote.state is not RemoteState.CLOSED
                              and remote.state is not RemoteState.CLOSING):
            self.setVisible(False)
            self._tick.stop()
            return
        self.setVisible(True)
        rec = remote.record
        if rec is not None:
            left = remote.remaining_s()
            if left <= 0:
                remote.refresh()  # closed by the background job at its end?
            self.provider_label.setText(
                f"Session with {short_address(rec.provider)} · {remote.model.name}"
            )
            self.timer_label.setText(hms(left))
            self.ticked.emit(self.timer_label.text())
            self.stake_label.setText(f"Stake {mor(rec.stake)}")
            if left <= 0 and remote.record is not None:
                self.result_label.setText(
                    "The session has ended; it is being closed and its stake comes back "
                    "automatically."
                )
            elif remote.state is RemoteState.CLOSING:
                self.result_label.setText("Closing the session…")
            elif remote.notices:
                self.result_label.setText(remote.notices[-1])
            else:
                self.result_label.setText("")
            self.close_button.setVisible(True)
            self.close_button.setEnabled(remote.state is RemoteState.OPEN)
            self.timer_label.setVisible(True)
            self.stake_label.setVisible(True)
            if not self._tick.isActive():
                self._tick.start()
            return
        self._tick.stop()
        self.timer_label.setVisible(False)
        self.stake_label.setVisible(False)
        self.close_button.setVisible(False)
        if remote.state is RemoteState.CLOSING:
            self.result_label.setText("Closing the session…")
        elif remote.last_closed is not None:
            who = short_address(remote.last_closed.provider)
            self.provider_label.setText(f"Session with {who}")
            self.result_label.setText(closed_text(remote.last_closed))
        elif remote.error:
            self.result_label.setText(remote.error)

    def _on_close(self) -> None:
        if self.remote is None or not self.remote.is_open or self.close_task is not None:
            return
        self.close_button.setEnabled(False)
        self.close_task = Op(self._close(self.remote), self).keep_running().run()

    async def _close(self, remote: RemoteChat) -> None:
        try:
            await remote.close()
        except UserFacingError as exc:
            self.result_label.setText(exc.message)
            self.result_label.setStyleSheet(ERROR_STYLE)
        else:
            self.result_label.setStyleSheet("")
        finally:
            self.close_task = None
            self.update_view()
