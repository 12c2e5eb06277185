"""Shown after stopping: what is still staked, what deregistering returns now, and what the
contract keeps until the end of the 365-day earnings period."""

from __future__ import annotations

from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.market.types import Provider
from app.ui.share.texts import date_text, deregister_refund
from app.wallet.units import format_amount


class OffboardPanel(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Stopped sharing", parent)
        lay = QVBoxLayout(self)
        self.label = QLabel()
        self.label.setWordWrap(True)
        lay.addWidget(self.label)
        row = QHBoxLayout()
        self.deregister_button = QPushButton("Deregister and return my stake")
        self.keep_button = QPushButton("Stay registered")
        self.keep_button.clicked.connect(self.hide)
        row.addStretch(1)
        row.addWidget(self.keep_button)
        row.addWidget(self.deregister_button)
        lay.addLayout(row)
        self.hide()

    def offer(self, info: Provider, now: int, bid_fee_spent: int = 0) -> None:
        back = deregister_refund(info.stake, info.limit_period_earned, info.limit_period_end, now)
        kept = info.stake - back
        text = (
            f"Your offer was removed, so nobody can open a new session with you. You are "
            f"still registered as a provider with {format_amount(info.stake)} MOR staked. "
            f"Deregister to get {format_amount(back)} MOR back now, or stay registered "
            "to come back later without staking again."
        )
        if kept:
            text += (
                f" The contract keeps {format_amount(kept)} MOR (what you earned this "
                f"year) until {date_text(info.limit_period_end)} UTC; deregistering again "
                "after that date returns it."
            )
        text += (" The offer fee is not refunded, and the model stake stays locked while the "
                 "model is registered, so you can come back without paying it again.")
        self.label.setText(text)
        self.registered(True)
        self.show()

    def registered(self, yes: bool) -> None:
        """The buttons only while there is a registration to keep or end."""
        self.deregister_button.setVisible(yes)
        self.keep_button.setVisible(yes)
