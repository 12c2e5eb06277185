"""Before going online: what is paid and gone, what is locked and how it comes back, in MOR,
read from the chain (``ProviderService.plan``). Nothing is sent until the user confirms."""

from __future__ import annotations

from PySide6.QtWidgets import QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from app.services.provider_service import ProviderPlan
from app.ui.share.texts import cap_sentence, date_text, mor
from app.ui.widgets.question_dialog import QuestionDialog


class CostLines:
    """The confirmation's lines, in wei (tests compare them with the contract's views)."""

    def __init__(self, plan: ProviderPlan, *, stake_after: int, period_until: int) -> None:
        self.bid_fee = 0 if plan.existing_bid else plan.bid_fee
        self.provider_stake = plan.provider_stake_to_add
        self.model_stake = plan.model_stake_to_add
        self.total = plan.mor_needed
        self.stake_after = stake_after
        self.period_until = period_until

    def texts(self) -> list[str]:
        lines = []
        if self.bid_fee:
            lines.append(f"Offer fee: {mor(self.bid_fee)}, paid and gone (the network keeps it, "
                         "also when you stop).")
        else:
            lines.append("Offer fee: nothing (your offer at this price is still on the network).")
        if self.provider_stake:
            lines.append(
                f"Provider stake: {mor(self.provider_stake)}, locked. It comes back when you "
                "stop and deregister, except what you earned in the current 365-day period, "
                f"which comes back after {date_text(self.period_until)}.")
        if self.model_stake:
            lines.append(
                f"Model stake: {mor(self.model_stake)}, locked while the model is registered "
                "(it stays registered so you can come back without paying it again; it is "
                "returned only when the model is deregistered).")
        lines.append(f"Total leaving your wallet now: {mor(self.total)}, plus network fees in "
                     "ETH.")
        lines.append(cap_sentence(self.stake_after, self.period_until))
        return lines


class CostDialog(QuestionDialog):
    """Opened without blocking the event loop; ``answer()`` resolves when the user decides."""

    def __init__(self, lines: CostLines, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Go online: what it costs")
        self.lines = lines
        lay = QVBoxLayout(self)
        self.labels: list[QLabel] = []
        for text in lines.texts():
            label = QLabel(text)
            label.setWordWrap(True)
            lay.addWidget(label)
            self.labels.append(label)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.confirm_button = self.buttons.addButton(
            "Pay and go online", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self._expect_answer()

    @property
    def text(self) -> str:
        return "\n".join(label.text() for label in self.labels)
