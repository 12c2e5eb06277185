"""Share my GPU: offer this computer's model to the network and earn MOR.

The page is a thin view over ``ProviderService`` (reached through ``services_of(ctx)``): a checklist
that explains what is missing before anything is sent, one toggle that goes online with per-step
progress, a live dashboard, and going offline with an offer to get the provider stake back.
All chain and engine work are coroutines on the qasync loop; service events only reach widgets
through a queued Qt signal, so the GUI thread never waits on the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QScrollArea,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.errors import UserFacingError
from app.services.app_services import AppServices, services_of
from app.services.context import AppContext
from app.services.provider_service import (
    CheckItem,
    CheckStatus,
    ProviderDashboard,
    ProviderService,
    ProviderState,
)
from app.ui.placeholder import page_title
from app.ui.wallet_page import TaskHost, error_label
from app.wallet.units import format_amount

log = logging.getLogger(__name__)

UPTIME_MS = 1_000
EARNINGS_MS = 15_000

STATUS_TEXT = {CheckStatus.OK: "✓ OK", CheckStatus.WARN: "! Check", CheckStatus.FAIL: "✗ Fix"}
STATUS_COLOR = {CheckStatus.OK: "#2e7d32", CheckStatus.WARN: "#b26a00", CheckStatus.FAIL: "#c62828"}
# What to do about an item that is not OK (the detail already says what is missing).
FIX_ADVICE = {
    "wallet": "Unlock your wallet on the Wallet page.",
    "gas": "Send some ETH to your wallet address (Wallet page → Receive) to pay network fees.",
    "mor": "Send MOR to your wallet address (Wallet page → Receive); the stake comes back when "
           "you stop sharing and deregister.",
    "model": "Pick or download a model on the Settings page.",
    "bench": "The model could not run a short test; see the log for details.",
    "reach": "",
    "price": "Enter a price per second inside the network's allowed range.",
}


def mor_per_hour(price_per_second: int) -> str:
    """Display only: a wei/s price as MOR per hour (exact decimal, rounded down)."""
    return f"{format_amount(price_per_second * 3600, 18, 6)} MOR/hour"


def deregister_refund(stake: int, period_earned: int, period_end: int, now: int) -> int:
    """What ``providerDeregister`` pays back: everything once the 365-day earnings period is
    over, else the stake minus what was earned in the period (the contract keeps that part)."""
    return stake if now > period_end else max(0, stake - period_earned)


def uptime_text(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def state_text(d: ProviderDashboard) -> str:
    if d.state is ProviderState.OFF:
        return "Off"
    if d.state is ProviderState.STARTING:
        return f"Starting… {d.step}".rstrip()
    if d.state is ProviderState.WAITING:
        return "Waiting for users"
    if d.state is ProviderState.SERVING:
        n = len(d.active_sessions)
        return f"Serving {n} session{'s' if n != 1 else ''}"
    if d.state is ProviderState.STOPPING:
        return "Stopping…"
    return f"Error: {d.error}"


class SharePage(QWidget):
    """Shown in the sidebar as "Share my GPU"."""

    services_event = Signal(str)  # queued hop from service listeners
    wallet_event = Signal(str)  # the wallet may speak from a worker thread
    navigate = Signal(str)  # page key the user asked to open (wallet, settings)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.services: AppServices = services_of(ctx)
        self.provider: ProviderService | None = None
        self.host = TaskHost()
        self.refresh_task: asyncio.Task[Any] | None = None
        self.toggle_task: asyncio.Task[Any] | None = None
        self.earnings_task: asyncio.Task[Any] | None = None
        self.deregister_task: asyncio.Task[Any] | None = None
        self.checklist_items: list[CheckItem] = []
        self.steps: list[str] = []
        self.earnings: dict[str, int] = {}

        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        body = QWidget()
        scroll.setWidget(body)
        lay = QVBoxLayout(body)
        lay.setContentsMargins(24, 20, 24, 20)
        lay.addWidget(page_title("Share my GPU"))
        intro = QLabel(
            "Serve a model from this computer to people on the Morpheus network and earn MOR "
            "for every second of a session. Your stake comes back when you stop and deregister."
        )
        intro.setWordWrap(True)
        intro.setProperty("role", "hint")
        lay.addWidget(intro)

        # Why the page cannot work right now (wallet locked, no chain), with a way to fix it.
        self.blocker = QWidget()
        bl = QHBoxLayout(self.blocker)
        bl.setContentsMargins(0, 0, 0, 0)
        self.blocker_label = QLabel()
        self.blocker_label.setWordWrap(True)
        self.blocker_label.setStyleSheet("color: #b26a00;")
        self.blocker_button = QPushButton()
        self.blocker_button.clicked.connect(self._go_to_fix)
        bl.addWidget(self.blocker_label, 1)
        bl.addWidget(self.blocker_button)
        self.blocker.hide()
        self._blocker_target = ""
        lay.addWidget(self.blocker)

        lay.addWidget(self._build_checklist())
        lay.addLayout(self._build_controls())
        self.progress = QListWidget()
        self.progress.setMaximumHeight(110)
        self.progress.hide()
        lay.addWidget(self.progress)
        self.errors = error_label()
        lay.addWidget(self.errors)
        lay.addWidget(self._build_offboard())
        lay.addWidget(self._build_dashboard())
        lay.addStretch(1)

        self.services_event.connect(self._on_services_event)
        self.services.on_change(self._forward_services_event)
        self.wallet_event.connect(self._on_wallet_event)
        self._wallet_listener = self._forward_wallet_event
        if ctx.wallet is not None:
            ctx.wallet.add_listener(self._wallet_listener)

        self.uptime_timer = QTimer(self)
        self.uptime_timer.setInterval(UPTIME_MS)
        self.uptime_timer.timeout.connect(self._tick_uptime)
        self.earnings_timer = QTimer(self)
        self.earnings_timer.setInterval(EARNINGS_MS)
        self.earnings_timer.timeout.connect(self.refresh_earnings)
        self.update_dashboard()
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # built outside the event loop (a plain script): stay idle
            return
        self.refresh()

    # ----- building ------------------------------------------------------------------------
    def _build_checklist(self) -> QWidget:
        box = QGroupBox("Before you start")
        lay = QVBoxLayout(box)
        self.checklist = QTreeWidget()
        self.checklist.setHeaderLabels(["Status", "Check", "Details"])
        self.checklist.setRootIsDecorated(False)
        self.checklist.setWordWrap(True)
        self.checklist.setMinimumHeight(170)
        lay.addWidget(self.checklist)
        row = QHBoxLayout()
        self.checklist_status = QLabel("Checking…")
        self.checklist_status.setProperty("role", "hint")
        self.check_button = QPushButton("Check again")
        self.check_button.clicked.connect(self.refresh)
        row.addWidget(self.checklist_status, 1)
        row.addWidget(self.check_button)
        lay.addLayout(row)
        return box

    def _build_controls(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(QLabel("Price"))
        self.price = QLineEdit()
        self.price.setPlaceholderText("wei per second")
        # No QIntValidator: wei prices exceed 32 bits; price_value() checks the text instead.
        self.price.textChanged.connect(self._price_changed)
        row.addWidget(self.price)
        row.addWidget(QLabel("wei/s"))
        self.price_hint = QLabel()
        self.price_hint.setProperty("role", "hint")
        row.addWidget(self.price_hint, 1)
        self.toggle = QPushButton("Share my GPU")
        self.toggle.setCheckable(True)
        self.toggle.setMinimumWidth(160)
        self.toggle.setEnabled(False)
        self.toggle.toggled.connect(self._toggled)
        row.addWidget(self.toggle)
        return row

    def _build_offboard(self) -> QWidget:
        self.offboard = QGroupBox("Stopped sharing")
        lay = QVBoxLayout(self.offboard)
        self.offboard_label = QLabel()
        self.offboard_label.setWordWrap(True)
        lay.addWidget(self.offboard_label)
        row = QHBoxLayout()
        self.deregister_button = QPushButton("Deregister and return my stake")
        self.keep_button = QPushButton("Stay registered")
        self.deregister_button.clicked.connect(self.deregister)
        self.keep_button.clicked.connect(self.offboard.hide)
        row.addStretch(1)
        row.addWidget(self.keep_button)
        row.addWidget(self.deregister_button)
        lay.addLayout(row)
        self.offboard.hide()
        return self.offboard

    def _build_dashboard(self) -> QWidget:
        box = QGroupBox("Dashboard")
        form = QFormLayout(box)
        self.state_label = QLabel()
        self.state_label.setWordWrap(True)
        self.endpoint_label = QLabel("—")
        self.endpoint_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bid_label = QLabel("—")
        self.bid_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sessions_label = QLabel("0")
        self.tokens_label = QLabel("0")
        self.uptime_label = QLabel("0:00:00")
        self.earned_label = QLabel("—")
        self.claimable_label = QLabel("—")
        self.claimed_label = QLabel("—")
        self.auto_claim = QCheckBox("Claim earnings automatically")
        self.auto_claim.setChecked(True)
        self.auto_claim.toggled.connect(self._auto_claim_toggled)
        form.addRow("State", self.state_label)
        form.addRow("Address", self.endpoint_label)
        form.addRow("Bid", self.bid_label)
        form.addRow("Sessions served", self.sessions_label)
        form.addRow("Tokens served", self.tokens_label)
        form.addRow("Uptime", self.uptime_label)
        form.addRow("Earned (paid to you)", self.earned_label)
        form.addRow("Claimable now", self.claimable_label)
        form.addRow("Claimed automatically", self.claimed_label)
        form.addRow(self.auto_claim)
        return box

    # ----- readiness -----------------------------------------------------------------------
    def _block(self, text: str, button: str, target: str) -> None:
        self.blocker_label.setText(text)
        self.blocker_button.setText(button)
        self._blocker_target = target
        self.blocker.show()
        self.checklist_status.setText(text)
        if not self.toggle.isChecked():
            self.toggle.setEnabled(False)

    def _go_to_fix(self) -> None:
        target = self._blocker_target
        self.navigate.emit(target)
        window = self.ctx.extras.get("main_window")
        if window is not None and hasattr(window, "show_page"):
            window.show_page(target)

    def refresh(self) -> asyncio.Task[Any]:
        """Re-run the checklist (and find out whether the page can work at all)."""
        if self.refresh_task is not None and not self.refresh_task.done():
            return self.refresh_task
        self.refresh_task = self.host.spawn(self._refresh(), self.errors)
        return self.refresh_task

    async def _refresh(self) -> None:
        self.check_button.setEnabled(False)
        try:
            wallet = self.ctx.wallet
            if wallet is None or wallet.address is None:
                self._block("There is no wallet yet. Set one up on the Wallet page first.",
                            "Open Wallet", "wallet")
                return
            if not wallet.is_unlocked:
                self._block("Your wallet is locked. Unlock it on the Wallet page to share.",
                            "Open Wallet", "wallet")
                return
            if await self.services.connect() is None:
                self._block(
                    f"Not connected to the network: {self.services.chain_error} "
                    "Check the network on the Settings page.", "Open Settings", "settings",
                )
                return
            self.blocker.hide()
            self.checklist_status.setText("Checking… (the first check runs the model once)")
            provider = await self.services.provider()
            self._attach(provider)
            if not self.price.text().strip():
                self.price.setText(str(await provider.suggested_price()))
            items = await provider.checklist(self.price_value(strict=False))
            self.show_checklist(items)
        finally:
            self.check_button.setEnabled(True)

    def _attach(self, provider: ProviderService) -> None:
        if self.provider is provider:
            return
        self.provider = provider
        self.auto_claim.blockSignals(True)
        self.auto_claim.setChecked(provider.auto_claim)
        self.auto_claim.blockSignals(False)
        self.update_dashboard()

    def show_checklist(self, items: list[CheckItem]) -> None:
        self.checklist_items = items
        self.checklist.clear()
        for item in items:
            detail = item.detail
            advice = FIX_ADVICE.get(item.key, "") if item.status is not CheckStatus.OK else ""
            if advice:
                detail = f"{detail}\n→ {advice}"
            row = QTreeWidgetItem([STATUS_TEXT[item.status], item.label, detail])
            row.setForeground(0, _brush(STATUS_COLOR[item.status]))
            row.setToolTip(2, detail)
            row.setData(0, Qt.ItemDataRole.UserRole, item.key)
            self.checklist.addTopLevelItem(row)
        for col in (0, 1):
            self.checklist.resizeColumnToContents(col)
        failed = [i for i in items if i.status is CheckStatus.FAIL]
        if failed:
            self.checklist_status.setText(
                f"{len(failed)} item{'s' if len(failed) != 1 else ''} to fix before sharing."
            )
        else:
            self.checklist_status.setText("Ready to share.")
        if not self.toggle.isChecked():
            self.toggle.setEnabled(not failed)

    def check_status(self, key: str) -> CheckStatus | None:
        for item in self.checklist_items:
            if item.key == key:
                return item.status
        return None

    # ----- price ---------------------------------------------------------------------------
    def price_value(self, *, strict: bool = True) -> int | None:
        text = self.price.text().strip().replace("_", "").replace(",", "")
        if not text:
            if strict:
                raise UserFacingError("Enter a price per second (in wei) before sharing.")
            return None
        if not text.isdigit() or int(text) <= 0:
            if strict:
                raise UserFacingError("The price must be a whole number of wei per second, "
                                      "greater than zero.")
            return None
        return int(text)

    def _price_changed(self, _text: str) -> None:
        value = self.price_value(strict=False)
        self.price_hint.setText(f"≈ {mor_per_hour(value)}" if value else "")

    # ----- going online / offline ----------------------------------------------------------
    def _toggled(self, checked: bool) -> None:
        if checked:
            self.toggle_task = self.host.spawn(self._go_online(), self.errors)
        else:
            self.toggle_task = self.host.spawn(self._go_offline(), self.errors)

    def _set_toggle(self, checked: bool) -> None:
        self.toggle.blockSignals(True)
        self.toggle.setChecked(checked)
        self.toggle.blockSignals(False)
        self.toggle.setText("Stop sharing" if checked else "Share my GPU")

    def _on_step(self, text: str) -> None:
        for i in range(self.progress.count()):
            item = self.progress.item(i)
            if item.text().startswith("… "):
                item.setText("✓ " + item.text()[2:])
        self.steps.append(text)
        self.progress.addItem(f"… {text}")
        self.progress.scrollToBottom()

    async def _go_online(self) -> None:
        self.toggle.setEnabled(False)
        self.offboard.hide()
        self.progress.clear()
        self.steps = []
        self.progress.show()
        try:
            price = self.price_value()
            provider = self.provider or await self.services.provider()
            self._attach(provider)
            await provider.go_online(price, on_step=self._on_step)
        except BaseException:
            self._set_toggle(False)
            for i in range(self.progress.count()):
                item = self.progress.item(i)
                if item.text().startswith("… "):
                    item.setText("✗ " + item.text()[2:])
            raise
        finally:
            self.toggle.setEnabled(True)
            self.update_dashboard()
        self._on_step("Online: waiting for users")
        self._set_toggle(True)
        self.uptime_timer.start()
        self.earnings_timer.start()
        self.refresh_earnings()

    async def _go_offline(self) -> None:
        self.toggle.setEnabled(False)
        provider = self.provider
        try:
            if provider is None:
                return
            await provider.go_offline()
            info = await provider.chain.get_provider(provider.me)
            if info.is_active and info.stake:
                now = await provider.chain.latest_timestamp()
                back = deregister_refund(info.stake, info.limit_period_earned,
                                         info.limit_period_end, now)
                kept = info.stake - back
                text = (
                    f"Your bid was removed, so nobody can open a new session with you. You are "
                    f"still registered as a provider with {format_amount(info.stake)} MOR staked. "
                    f"Deregister to get {format_amount(back)} MOR back now, or stay registered "
                    "to come back later without staking again."
                )
                if kept:
                    until = dt.datetime.fromtimestamp(info.limit_period_end, dt.UTC)
                    text += (
                        f" The contract keeps {format_amount(kept)} MOR (what you earned this "
                        f"year) until {until:%Y-%m-%d} UTC; deregistering again after that "
                        "date returns it."
                    )
                self.offboard_label.setText(text)
                self.deregister_button.show()
                self.offboard.show()
        except BaseException:
            self._set_toggle(provider is not None and provider.server is not None)
            raise
        finally:
            self.toggle.setEnabled(True)
            self.uptime_timer.stop()
            self.earnings_timer.stop()
            self.update_dashboard()
        self._set_toggle(False)

    def deregister(self) -> asyncio.Task[Any]:
        self.deregister_task = self.host.spawn(self._deregister(), self.errors)
        return self.deregister_task

    async def _deregister(self) -> None:
        provider = self.provider
        if provider is None:
            return
        self.deregister_button.setEnabled(False)
        try:
            before = await provider.chain.mor_balance(provider.me)
            await provider.go_offline(deregister=True)
            back = await provider.chain.mor_balance(provider.me) - before
        finally:
            self.deregister_button.setEnabled(True)
        self.offboard_label.setText(
            f"You are no longer a provider. {format_amount(back)} MOR came back to your wallet."
        )
        self.deregister_button.hide()
        self.update_dashboard()

    # ----- dashboard -----------------------------------------------------------------------
    def update_dashboard(self) -> None:
        if self.provider is None:
            self.state_label.setText("Off")
            return
        d = self.provider.dashboard
        self.state_label.setText(state_text(d))
        self.state_label.setStyleSheet("color: #c62828;" if d.state is ProviderState.ERROR else "")
        self.endpoint_label.setText(d.endpoint or "—")
        self.bid_label.setText(d.bid_id or "—")
        self.sessions_label.setText(
            f"{d.sessions_served} ({len(d.active_sessions)} active now)"
        )
        self.tokens_label.setText(f"{d.tokens_served:,} in {d.prompts_served:,} answers")
        self._tick_uptime()
        online = d.state in (ProviderState.WAITING, ProviderState.SERVING)
        busy = self.toggle_task is not None and not self.toggle_task.done()
        if not busy and online != self.toggle.isChecked():
            # Started or stopped elsewhere (tray, autostart, the page opened later).
            self._set_toggle(online)
            self.toggle.setEnabled(True)
            for timer in (self.uptime_timer, self.earnings_timer):
                if online:
                    timer.start()
                else:
                    timer.stop()

    def _tick_uptime(self) -> None:
        if self.provider is not None:
            self.uptime_label.setText(uptime_text(self.provider.dashboard.uptime_s))

    def refresh_earnings(self) -> asyncio.Task[Any] | None:
        if self.provider is None:
            return None
        if self.earnings_task is not None and not self.earnings_task.done():
            return self.earnings_task
        self.earnings_task = self.host.spawn(self._refresh_earnings(self.provider), self.errors)
        return self.earnings_task

    async def _refresh_earnings(self, provider: ProviderService) -> None:
        e = await provider.earnings()
        self.earnings = e
        self.earned_label.setText(f"{format_amount(e['earned'], 18, 6)} MOR")
        self.claimable_label.setText(f"{format_amount(e['claimable'], 18, 6)} MOR")
        self.claimed_label.setText(f"{format_amount(e['claimed'], 18, 6)} MOR")

    def _auto_claim_toggled(self, on: bool) -> None:
        if self.provider is not None:
            self.provider.auto_claim = on
            if on:
                for runner in self.services.runners():
                    runner.poke_all()  # claims that waited for the switch run now

    # ----- events --------------------------------------------------------------------------
    def _forward_wallet_event(self, what: str) -> None:
        with contextlib.suppress(RuntimeError):
            self.wallet_event.emit(what)

    def _forward_services_event(self, what: str) -> None:
        with contextlib.suppress(RuntimeError):  # the page was deleted; services live on
            self.services_event.emit(what)

    def _on_services_event(self, what: str) -> None:
        if what == "provider":
            self.update_dashboard()
        elif what == "chain" and self.services.chain is not None and self.blocker.isVisible():
            self.refresh()  # connected now (a failed attempt also says "chain": not then)

    def _on_wallet_event(self, what: str) -> None:
        if what in ("unlocked", "locked", "changed"):
            self.refresh()

    def closeEvent(self, event: Any) -> None:
        wallet = self.ctx.wallet
        if wallet is not None:
            with contextlib.suppress(Exception):
                wallet.remove_listener(self._wallet_listener)
        super().closeEvent(event)


def _brush(color: str) -> Any:
    from PySide6.QtGui import QBrush, QColor

    return QBrush(QColor(color))
