"""The "Open session" dialog: duration slider → stake from the contract's views, balance check,
what comes back when, then opening with step progress."""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLayout,
    QPushButton,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.errors import UserFacingError
from app.market.rating import RatedBid
from app.services.consumer_service import MIN_SESSION_S, StakeQuote
from app.services.remote_chat import RemoteChat, short_address
from app.ui.formatting import duration_text, local_time, mor, mor_per_hour
from app.ui.ops import Op

DEFAULT_MINUTES = 30
DIALOG_WIDTH = 520
QUOTE_DEBOUNCE_MS = 300
ERROR_STYLE = "color: #b91c1c;"


def returns_text(next_midnight: int) -> str:
    return (
        "Closing before the end returns the unused stake at once; the part for today's use is "
        f"held until {local_time(next_midnight)} and then returned automatically. That is the "
        "next 00:00 UTC. If the session runs to its end, the whole stake comes back when it "
        "closes."
    )


def cost_text(q: StakeQuote) -> str:
    """The most the session costs, in the words of what leaves the wallet and what comes back."""
    return (
        f"The most this costs you: {mor(q.stake, 6)} is set aside while the session runs, and "
        "all of it comes back to you (when, see below). The provider's pay, at most "
        f"{mor(q.cost_if_used_fully, 6)} for {duration_text(q.duration_s)}, comes from the "
        "network's shared fund, not from your stake. Opening and closing each need a small "
        "network fee in ETH."
    )


EXPLAIN = (
    "To use a model on the network you set MOR aside (a stake) for the time you choose. You do "
    "not spend it: the network pays the provider from its own fund, in proportion to the MOR "
    "set aside. When you close the session, the stake comes back. If you close before the end, "
    "the part that paid for today's use stays set aside until the next 00:00 UTC, then comes "
    "back by itself; you do not need to do anything. The window's Activity page shows each "
    "step."
)


class OpenSessionDialog(QDialog):
    """Duration slider → stake from the contract's views, balance check, what comes back when,
    then opening with step progress. ``open_task`` is the opening coroutine once started."""

    opened = Signal(object)  # SessionRecord
    quoted = Signal(object)  # StakeQuote, once shown

    def __init__(self, remote: RemoteChat, offer: RatedBid, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.remote = remote
        self.offer = offer
        self.quote: StakeQuote | None = None
        self.quote_task: asyncio.Task[Any] | None = None
        self.open_task: asyncio.Task[Any] | None = None
        self.steps: list[str] = []
        self._quoted_for = 0
        self.setWindowTitle("Open a session")
        bid = offer.bid
        heading = QLabel(
            f"<b>{remote.model.name}</b> from provider {short_address(bid.provider)} at "
            f"{mor_per_hour(bid.price_per_second)}"
        )
        heading.setWordWrap(True)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(MIN_SESSION_S // 60, MIN_SESSION_S // 60)
        self.slider.setSingleStep(5)
        self.slider.setPageStep(30)
        self.duration_label = QLabel("")
        self.stake_label = QLabel("Working out the stake…")
        self.stake_label.setWordWrap(True)
        self.cost_label = QLabel("")
        self.cost_label.setWordWrap(True)
        self.explain_button = QToolButton()
        self.explain_button.setText("What does this mean?")
        self.explain_button.setCheckable(True)
        self.explain_button.setAutoRaise(True)
        self.explain_label = QLabel(EXPLAIN)
        self.explain_label.setWordWrap(True)
        self.explain_label.setProperty("role", "hint")
        self.explain_label.setVisible(False)
        self.explain_button.toggled.connect(self._on_explain)
        self.balance_label = QLabel("")
        self.balance_label.setWordWrap(True)
        self.returns_label = QLabel("")
        self.returns_label.setWordWrap(True)
        self.returns_label.setProperty("role", "hint")
        self.steps_label = QLabel("")
        self.steps_label.setWordWrap(True)
        self.error_label = QLabel("")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.setVisible(False)
        self.open_button = QPushButton("Open session")
        self.open_button.setDefault(True)
        self.open_button.setEnabled(False)
        self.cancel_button = QPushButton("Cancel")

        row = QHBoxLayout()
        row.addWidget(QLabel("Duration"))
        row.addWidget(self.slider, 1)
        row.addWidget(self.duration_label)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addLayout(row)
        layout.addWidget(self.stake_label)
        layout.addWidget(self.cost_label)
        layout.addWidget(self.balance_label)
        layout.addWidget(self.returns_label)
        layout.addWidget(self.explain_button)
        layout.addWidget(self.explain_label)
        layout.addWidget(self.steps_label)
        layout.addWidget(self.error_label)
        layout.addLayout(buttons)
        # The dialog grows with its wrapped texts (set after it is shown): never half lines.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        self.setMinimumWidth(DIALOG_WIDTH)
        self.resize(DIALOG_WIDTH, self.sizeHint().height())
        self.slider.setAccessibleName("Session length")
        self.open_button.setAccessibleName("Open session")
        self.open_button.setToolTip("Sets the stake aside and opens the session")
        self.cancel_button.setAccessibleName("Cancel")

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(QUOTE_DEBOUNCE_MS)
        self._debounce.timeout.connect(self._requote)
        self.slider.valueChanged.connect(self._on_slider)
        self.open_button.clicked.connect(self._on_open)
        self.cancel_button.clicked.connect(self.reject)
        self.init_task = Op(self._init(), self).run()

    @property
    def duration_s(self) -> int:
        return int(self.slider.value()) * 60

    async def _init(self) -> None:
        try:
            max_s = await self.remote.consumer.chain.max_session_duration()
        except UserFacingError as exc:
            self._error(exc.message)
            return
        top = max(MIN_SESSION_S // 60, max_s // 60)
        self.slider.blockSignals(True)
        self.slider.setRange(MIN_SESSION_S // 60, top)
        self.slider.setValue(min(DEFAULT_MINUTES, top))
        self.slider.blockSignals(False)
        self._on_slider(self.slider.value())
        self._debounce.stop()
        self._requote()

    def _on_slider(self, _value: int) -> None:
        self.duration_label.setText(duration_text(self.duration_s))
        self.open_button.setEnabled(False)
        self.stake_label.setText("Working out the stake…")
        self._debounce.start()

    def _requote(self) -> None:
        if self.quote_task is not None and not self.quote_task.done():
            self.quote_task.cancel()
        self.quote_task = Op(self._quote(self.duration_s), self).run()

    async def _quote(self, duration_s: int) -> None:
        try:
            q = await self.remote.consumer.quote(self.offer.bid, duration_s)
        except UserFacingError as exc:
            self._error(exc.message)
            return
        if duration_s != self.duration_s:
            return  # the slider moved on; a newer quote follows
        self.quote = q
        self._quoted_for = duration_s
        self.error_label.setVisible(False)
        granted = ("" if q.duration_s >= duration_s  # capped at the network's longest session
                   else f" (the network allows at most {duration_text(q.duration_s)})")
        self.stake_label.setText(f"Stake: {mor(q.stake, 6)}{granted}")
        if q.affordable:
            self.balance_label.setText(f"Your balance: {mor(q.balance)} — enough.")
            self.balance_label.setStyleSheet("")
        else:
            self.balance_label.setText(
                f"Your balance is {mor(q.balance)}: you need {mor(q.shortfall, 6)} more to open "
                "this session. Add MOR on the Wallet page or choose a shorter session."
            )
            self.balance_label.setStyleSheet(ERROR_STYLE)
        self.returns_label.setText(returns_text(q.next_midnight))
        self.cost_label.setText(cost_text(q))
        self._fit()
        self.open_button.setEnabled(q.affordable and self.open_task is None)
        self.quoted.emit(q)

    def _on_explain(self, shown: bool) -> None:
        self.explain_label.setVisible(shown)
        self._fit()

    def _fit(self) -> None:
        """Grow to show every wrapped line (texts change after the dialog is shown)."""
        layout = self.layout()
        if layout is not None:
            layout.activate()
            need = layout.totalHeightForWidth(self.width()) if layout.hasHeightForWidth() else 0
            if need > self.height():
                self.resize(self.width(), need)

    def _on_open(self) -> None:
        if self.quote is None or not self.quote.affordable or self.open_task is not None:
            return
        self.open_button.setEnabled(False)
        self.slider.setEnabled(False)
        self.error_label.setVisible(False)
        self.open_task = Op(self._open(self._quoted_for), self).keep_running().run()

    def _step(self, text: str) -> None:
        self.steps.append(text)
        self.steps_label.setText(f"{text}…" if text != "Session open" else text)

    async def _open(self, duration_s: int) -> None:
        try:
            rec = await self.remote.open(self.offer.bid.id, duration_s, on_step=self._step)
        except UserFacingError as exc:
            self.open_task = None
            self.slider.setEnabled(True)
            self._error(exc.message)
            self.open_button.setEnabled(self.quote is not None and self.quote.affordable)
            return
        self.opened.emit(rec)
        self.accept()

    def _error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.setVisible(True)
        self._fit()
