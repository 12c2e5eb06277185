"""What the user offers: the price in MOR per hour (wei per second only in an advanced field),
the provider stake that caps yearly earnings, and the switch that goes online."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.errors import UserFacingError
from app.ui.share.texts import (
    HOUR,
    cap_sentence,
    hours_covered,
    mor_per_hour,
    per_second_from_hour_text,
    per_thousand_tokens,
)
from app.wallet.units import format_amount, parse_amount


class OfferPanel(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Your offer", parent)
        outer = QVBoxLayout(self)
        form = QFormLayout()
        outer.addLayout(form)
        # Price: MOR per hour is what people think in; the contract stores wei per second.
        self.price_hour = QLineEdit()
        self.price_hour.setPlaceholderText("MOR per hour")
        self.price_hour.textEdited.connect(self._hour_edited)
        hour_row = QHBoxLayout()
        hour_row.addWidget(self.price_hour)
        hour_row.addWidget(QLabel("MOR/hour"))
        self.advanced_button = QPushButton("Advanced…")
        self.advanced_button.setCheckable(True)
        hour_row.addWidget(self.advanced_button)
        form.addRow("Price", hour_row)
        self.tokens_hint = QLabel()
        self.tokens_hint.setProperty("role", "hint")
        form.addRow("", self.tokens_hint)
        # Advanced: the exact wei per second the bid carries (a "details" section).
        self.advanced = QWidget()
        self.advanced.setProperty("details", True)
        adv = QHBoxLayout(self.advanced)
        adv.setContentsMargins(0, 0, 0, 0)
        self.price = QLineEdit()
        self.price.setPlaceholderText("wei per second")
        # No QIntValidator: wei prices exceed 32 bits; price_value() checks the text instead.
        self.price.textChanged.connect(self._wei_changed)
        adv.addWidget(self.price)
        adv.addWidget(QLabel("wei/s"))
        self.price_hint = QLabel()
        self.price_hint.setProperty("role", "hint")
        adv.addWidget(self.price_hint, 1)
        self.advanced.hide()
        self.advanced_button.toggled.connect(self.advanced.setVisible)
        form.addRow("", self.advanced)
        # Stake: the contract pays at most the stake per 365-day period.
        self.stake = QLineEdit()
        self.stake.setPlaceholderText("MOR")
        self.stake.textChanged.connect(lambda _t: self.update_hints())
        stake_row = QHBoxLayout()
        stake_row.addWidget(self.stake)
        stake_row.addWidget(QLabel("MOR provider stake"))
        form.addRow("Stake", stake_row)
        self.stake_hint = QLabel()
        self.stake_hint.setWordWrap(True)
        self.stake_hint.setProperty("role", "hint")
        form.addRow("", self.stake_hint)
        row = QHBoxLayout()
        row.addStretch(1)
        self.toggle = QPushButton("Share my GPU")
        self.toggle.setCheckable(True)
        self.toggle.setMinimumWidth(160)
        self.toggle.setEnabled(False)
        row.addWidget(self.toggle)
        outer.addLayout(row)
        self.tokens_per_s = 0.0
        self.min_stake = 0
        self.period_until = 0  # chain time the current (or next) earnings period ends

    # -- price -----------------------------------------------------------------------------
    def price_value(self, *, strict: bool = True) -> int | None:
        text = self.price.text().strip().replace("_", "").replace(",", "")
        if not text:
            if strict:
                raise UserFacingError("Enter a price (MOR per hour) before sharing.")
            return None
        if not text.isdigit() or int(text) <= 0:
            if strict:
                raise UserFacingError("The price must be a whole number of wei per second, "
                                      "greater than zero.")
            return None
        return int(text)

    def set_price(self, price_per_second: int) -> None:
        self.price.setText(str(price_per_second))

    def _hour_edited(self, text: str) -> None:
        try:
            wei = per_second_from_hour_text(text)
        except UserFacingError:
            self.price.blockSignals(True)
            self.price.setText("")
            self.price.blockSignals(False)
            self.price_hint.setText("")
            self.tokens_hint.setText("Type a price like 1.5 (MOR per hour)." if text.strip()
                                     else "")
            return
        self.price.blockSignals(True)
        self.price.setText(str(wei))
        self.price.blockSignals(False)
        self.price_hint.setText(f"≈ {mor_per_hour(wei)}")
        self.update_hints()

    def _wei_changed(self, _text: str) -> None:
        value = self.price_value(strict=False)
        self.price_hint.setText(f"≈ {mor_per_hour(value)}" if value else "")
        if value:
            self.price_hour.setText(format_amount(value * HOUR, 18, 6))
        self.update_hints()

    # -- stake -----------------------------------------------------------------------------
    def stake_value(self, *, strict: bool = True) -> int | None:
        text = self.stake.text().strip()
        if not text:
            return None
        try:
            value = parse_amount(text, 18, "MOR")
        except UserFacingError:
            if strict:
                raise
            return None
        if value < self.min_stake:
            if strict:
                raise UserFacingError(f"The provider stake must be at least "
                                      f"{format_amount(self.min_stake)} MOR on this network.")
            return None
        return value

    def update_hints(self) -> None:
        price = self.price_value(strict=False) or 0
        self.tokens_hint.setText(per_thousand_tokens(price, self.tokens_per_s) if price else "")
        stake = self.stake_value(strict=False)
        if stake is None:
            self.stake_hint.setText(
                f"At least {format_amount(self.min_stake)} MOR." if self.stake.text().strip()
                else "")
            return
        hint = cap_sentence(stake, self.period_until) if self.period_until else ""
        if price:
            hint = f"{hint} {hours_covered(stake, price)}".strip()
        self.stake_hint.setText(hint)
