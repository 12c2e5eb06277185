"""The live dashboard: state, address, offer, sessions, uptime, and earnings against the cap."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QFormLayout, QGroupBox, QLabel, QWidget

from app.services.provider_service import ProviderDashboard, ProviderState
from app.ui.share.texts import date_text, mor, state_text, uptime_text


class DashboardPanel(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Dashboard", parent)
        form = QFormLayout(self)
        self.state_label = QLabel()
        self.state_label.setWordWrap(True)
        self.endpoint_label = QLabel("—")
        self.endpoint_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.endpoint_label.setWordWrap(True)
        self.bid_label = QLabel("—")
        self.bid_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bid_label.setWordWrap(True)
        self.bid_label.setProperty("details", True)  # the offer's id on chain: for support
        self.bid_label.setToolTip("Your offer's number on the network (for support requests).")
        self.sessions_label = QLabel("0")
        self.tokens_label = QLabel("0")
        self.uptime_label = QLabel("0:00:00")
        self.last_uptime_s = 0.0
        self.earned_label = QLabel("—")
        self.period_label = QLabel("—")  # earned this period of the cap
        self.held_label = QLabel("—")  # owed but held back by the cap
        self.claimable_label = QLabel("—")
        self.claimed_label = QLabel("—")
        self.cap_notice = QLabel()
        self.cap_notice.setWordWrap(True)
        self.cap_notice.hide()
        self.auto_claim = QCheckBox("Claim earnings automatically")
        self.auto_claim.setChecked(True)
        form.addRow("State", self.state_label)
        form.addRow("Address", self.endpoint_label)
        form.addRow("Your offer", self.bid_label)
        form.addRow("Sessions served", self.sessions_label)
        form.addRow("Tokens served", self.tokens_label)
        form.addRow("Uptime", self.uptime_label)
        form.addRow("Earned (paid to you)", self.earned_label)
        form.addRow("Earned this period", self.period_label)
        form.addRow("Held back by the cap", self.held_label)
        form.addRow("Claimable now", self.claimable_label)
        form.addRow("Claimed automatically", self.claimed_label)
        form.addRow(self.cap_notice)
        form.addRow(self.auto_claim)

    def show_state(self, d: ProviderDashboard) -> None:
        self.state_label.setText(state_text(d))
        self.state_label.setStyleSheet("color: #c62828;" if d.state is ProviderState.ERROR else "")
        self.endpoint_label.setText(d.endpoint or "—")
        self.bid_label.setText(d.bid_id or "—")
        failed = (f", {d.sessions_failed} failed: no receipt signed, closed as disputes"
                  if d.sessions_failed else "")
        self.sessions_label.setText(
            f"{d.sessions_served} ({len(d.active_sessions)} active now){failed}")
        self.tokens_label.setText(f"{d.tokens_served:,} in {d.prompts_served:,} answers")
        self.show_uptime(d)
        cap = d.cap
        if cap is not None and (cap.cap_reached or cap.near_cap):
            self.cap_notice.setText(cap.text)
            self.cap_notice.setStyleSheet("color: #c62828;" if cap.cap_reached
                                          else "color: #b26a00;")
            self.cap_notice.show()
        else:
            self.cap_notice.hide()

    def show_uptime(self, d: ProviderDashboard) -> None:
        """Counts while online; once stopped it stays at how long the last run lasted."""
        if d.state in (ProviderState.WAITING, ProviderState.SERVING):
            self.last_uptime_s = d.uptime_s
        elif d.state in (ProviderState.STARTING, ProviderState.ERROR):
            self.last_uptime_s = 0.0
        self.uptime_label.setText(uptime_text(self.last_uptime_s))

    def show_earnings(self, e: dict[str, int]) -> None:
        self.earned_label.setText(mor(e["earned"]))
        self.claimable_label.setText(mor(e["claimable"]))
        self.claimed_label.setText(mor(e["claimed"]))
        self.period_label.setText(f"{mor(e['earned_period'])} of at most {mor(e['cap'])} "
                                  f"until {date_text(e['period_end'])}")
        self.held_label.setText(mor(e["held_back"]))
