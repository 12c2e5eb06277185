"""Share my GPU: offer this computer's model to the network and earn MOR.

The page is a thin view over ``ProviderService`` (reached through ``services_of(ctx)``), made of
panels: a checklist that explains what is missing before anything is sent, the offer (price in
MOR per hour, the stake that caps yearly earnings, the switch), a confirmation of every MOR the
switch spends or locks, read from the chain, a live dashboard, and going offline with an offer to
get the provider stake back. All chain and engine work are coroutines on the qasync loop; service
events only reach widgets through a queued Qt signal, so the GUI thread never waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.market.economics import PROVIDER_REWARD_LIMITER_PERIOD
from app.services.app_services import AppServices, services_of
from app.services.context import AppContext
from app.services.provider_service import (
    CheckItem,
    CheckStatus,
    GoOnlineCancelled,
    ProviderPlan,
    ProviderService,
    ProviderState,
)
from app.ui.ops import OpHost, error_label
from app.ui.placeholder import page_title, scroll_body
from app.ui.share.checklist_panel import ChecklistPanel
from app.ui.share.cost_dialog import CostDialog, CostLines
from app.ui.share.dashboard_panel import DashboardPanel
from app.ui.share.offboard_panel import OffboardPanel
from app.ui.share.offer_panel import OfferPanel
from app.ui.share.reach_panel import ListenDialog, ReachPanel, needs_listen_consent
from app.ui.share.state import (
    DONE,
    FAILED,
    add_step,
    clear_steps,
    end_before_stop,
    is_online,
    mark_steps,
)
from app.ui.share.texts import plain
from app.wallet.units import format_amount

log = logging.getLogger(__name__)

UPTIME_MS = 1_000
EARNINGS_MS = 15_000


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
        self.host = OpHost(self)
        self.refresh_task: asyncio.Task[Any] | None = None
        self.toggle_task: asyncio.Task[Any] | None = None
        self.earnings_task: asyncio.Task[Any] | None = None
        self.deregister_task: asyncio.Task[Any] | None = None
        self.cost_dialog: CostDialog | None = None
        self.listen_dialog: ListenDialog | None = None
        self.steps: list[str] = []
        self.earnings: dict[str, int] = {}

        body = QWidget()
        scroll_body(self, body)
        lay = QVBoxLayout(body)
        lay.setContentsMargins(24, 20, 24, 20)
        lay.addWidget(page_title("Share my GPU"))
        intro = QLabel(
            "Serve a model from this computer to people on the Morpheus network and earn MOR "
            "for every second of a session. Going online pays an offer fee and locks stakes; "
            "you see every amount, and how it comes back, before anything is sent."
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

        self.checklist_panel = ChecklistPanel()
        self.checklist = self.checklist_panel.tree
        self.checklist_status = self.checklist_panel.status
        self.check_button = self.checklist_panel.check_button
        self.check_button.clicked.connect(self.refresh)
        lay.addWidget(self.checklist_panel)

        self.reach = ReachPanel()
        lay.addWidget(self.reach)

        self.offer = OfferPanel()
        self.price, self.price_hint = self.offer.price, self.offer.price_hint
        self.price_hour, self.stake = self.offer.price_hour, self.offer.stake
        self.toggle = self.offer.toggle
        self.toggle.toggled.connect(self._toggled)
        lay.addWidget(self.offer)

        self.progress = QListWidget()
        self.progress.setMaximumHeight(110)
        self.progress.hide()
        lay.addWidget(self.progress)
        self.errors = error_label()
        lay.addWidget(self.errors)

        self.offboard = OffboardPanel()
        self.offboard_label = self.offboard.label
        self.deregister_button = self.offboard.deregister_button
        self.keep_button = self.offboard.keep_button
        self.deregister_button.clicked.connect(self.deregister)
        lay.addWidget(self.offboard)

        self.dashboard = DashboardPanel()
        d = self.dashboard
        self.state_label, self.endpoint_label, self.bid_label = (
            d.state_label, d.endpoint_label, d.bid_label)
        self.sessions_label, self.tokens_label, self.uptime_label = (
            d.sessions_label, d.tokens_label, d.uptime_label)
        self.earned_label, self.claimable_label, self.claimed_label = (
            d.earned_label, d.claimable_label, d.claimed_label)
        self.auto_claim = d.auto_claim
        self.auto_claim.toggled.connect(self._auto_claim_toggled)
        lay.addWidget(self.dashboard)
        lay.addStretch(1)

        self.services_event.connect(self._on_services_event)
        self.services.on_change(self._forward_services_event)
        self.services.on_stop(lambda: end_before_stop(self.toggle_task))  # quit mid-switch
        self.wallet_event.connect(self._on_wallet_event)
        self._wallet_listener = self._forward_wallet_event
        if ctx.wallet is not None:
            ctx.wallet.add_listener(self._wallet_listener)

        self.uptime_timer = QTimer(self)
        self.uptime_timer.setInterval(UPTIME_MS)
        self.uptime_timer.timeout.connect(self._tick_uptime)
        self.earnings_timer = QTimer(self)
        self.earnings_timer.setInterval(EARNINGS_MS)
        # Earnings are chain reads: only while someone sees the page (none in the tray).
        self.earnings_timer.timeout.connect(lambda: self.isVisible() and self.refresh_earnings())
        self.update_dashboard()
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # built outside the event loop (a plain script): stay idle
            return
        self.refresh()

    @property
    def checklist_items(self) -> list[CheckItem]:
        return self.checklist_panel.items

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

    def refresh(self) -> asyncio.Task[Any] | None:
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
            self.reach.apply(provider)
            if not self.price.text().strip():
                self.offer.set_price(await provider.suggested_price())
            await self._read_stake(provider)
            items = await provider.checklist(self.price_value(strict=False))
            self.show_checklist(items)
            with contextlib.suppress(Exception):  # cached by the checklist: no second run
                self.offer.tokens_per_s = await provider.benchmark()
            self.offer.update_hints()
        finally:
            self.check_button.setEnabled(True)

    async def _read_stake(self, provider: ProviderService) -> None:
        """The stake chooser's floor, default and earnings period, from the contract."""
        chain = provider.chain
        params = await chain.market_params()
        info = await chain.get_provider(provider.me)
        now = await chain.latest_timestamp()
        self.offer.min_stake = params.provider_min_stake
        self.offer.period_until = (info.limit_period_end
                                   if info.exists and now <= info.limit_period_end
                                   else now + PROVIDER_REWARD_LIMITER_PERIOD)
        if not self.stake.text().strip():
            self.stake.setText(format_amount(max(params.provider_min_stake, info.stake)))

    def _attach(self, provider: ProviderService) -> None:
        if self.provider is provider:
            return
        self.provider = provider
        self.reach.load(provider)
        self.auto_claim.blockSignals(True)
        self.auto_claim.setChecked(provider.auto_claim)
        self.auto_claim.blockSignals(False)
        self.update_dashboard()

    def show_checklist(self, items: list[CheckItem]) -> None:
        failed = self.checklist_panel.show_items(items)
        if not self.toggle.isChecked():
            self.toggle.setEnabled(not failed)

    def check_status(self, key: str) -> CheckStatus | None:
        return self.checklist_panel.status_of(key)

    def price_value(self, *, strict: bool = True) -> int | None:
        return self.offer.price_value(strict=strict)

    # ----- going online / offline ----------------------------------------------------------
    def _toggled(self, checked: bool) -> None:
        if self.toggle_task is not None and not self.toggle_task.done():
            self._set_toggle(not checked)  # a second click while the first runs: ignored
            return
        self.toggle.setEnabled(False)  # now, not when the work starts: a double click is one
        work = self._go_online() if checked else self._go_offline()
        self.toggle_task = self.host.spawn(work, self.errors)
        if self.toggle_task is None:  # no event loop (a plain script): nothing runs
            self.toggle.setEnabled(True)

    def _set_toggle(self, checked: bool) -> None:
        self.toggle.blockSignals(True)
        self.toggle.setChecked(checked)
        self.toggle.blockSignals(False)
        self.toggle.setText("Stop sharing" if checked else "Share my GPU")

    def _on_step(self, text: str) -> None:
        self.steps.append(text)
        add_step(self.progress, plain(text))  # the service's words, made plain

    async def _confirm_costs(self, provider: ProviderService, plan: ProviderPlan) -> bool:
        """Show what going online spends and locks (the plan is read from chain just before
        the first transaction); True to go ahead."""
        chain = provider.chain
        info = await chain.get_provider(provider.me)
        now = await chain.latest_timestamp()
        until = (info.limit_period_end if info.exists and now <= info.limit_period_end
                 else now + PROVIDER_REWARD_LIMITER_PERIOD)
        self.cost_dialog = CostDialog(
            CostLines(plan, stake_after=info.stake + plan.provider_stake_to_add,
                      period_until=until), self)
        try:
            return await self.cost_dialog.answer()
        finally:
            self.cost_dialog.deleteLater()
            self.cost_dialog = None

    async def _go_online(self) -> None:
        self.toggle.setEnabled(False)
        self.offboard.hide()
        self.progress.clear()
        self.steps = []
        self.progress.show()
        try:
            price = self.price_value()
            assert price is not None
            stake = self.offer.stake_value()
            provider = self.provider or await self.services.provider()
            self._attach(provider)
            provider.provider_stake = stake
            self.reach.apply(provider)
            if needs_listen_consent(provider):
                self.listen_dialog = ListenDialog(provider.host, provider.port, self)
                allowed = await self.listen_dialog.answer()
                self.listen_dialog.deleteLater()
                self.listen_dialog = None
                if not allowed:
                    self._set_toggle(False)
                    self.progress.addItem("✗ Cancelled: nothing was sent")
                    return
                provider.listen_consent = True
            try:
                await provider.go_online(price, on_step=self._on_step,
                                         confirm=lambda plan: self._confirm_costs(provider, plan))
            except GoOnlineCancelled:
                self._set_toggle(False)
                self.progress.addItem("✗ Cancelled: nothing was sent")
                mark_steps(self.progress, DONE)
                return
        except BaseException:
            self._set_toggle(False)
            mark_steps(self.progress, FAILED)
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
                self.offboard.offer(info, await provider.chain.latest_timestamp())
        except BaseException:
            self._set_toggle(provider is not None and provider.server is not None)
            raise
        finally:
            self.toggle.setEnabled(True)
            self.uptime_timer.stop()
            self.earnings_timer.stop()
            if provider is None or not is_online(provider.dashboard):
                self.steps = []
                clear_steps(self.progress)  # no "Online: waiting for users" once stopped
            self.update_dashboard()
        self._set_toggle(False)

    def deregister(self) -> asyncio.Task[Any] | None:
        """One deregistration however often the button is clicked while it runs."""
        if self.deregister_task is not None and not self.deregister_task.done():
            return self.deregister_task
        self.deregister_button.setEnabled(False)
        self.keep_button.setEnabled(False)
        self.deregister_task = self.host.spawn(self._deregister(), self.errors)
        return self.deregister_task

    async def _deregister(self) -> None:
        provider = self.provider
        try:
            if provider is None:
                return
            before = await provider.chain.mor_balance(provider.me)
            await provider.go_offline(deregister=True)
            back = await provider.chain.mor_balance(provider.me) - before
            info = await provider.chain.get_provider(provider.me)
        finally:
            self.deregister_button.setEnabled(True)
            self.keep_button.setEnabled(True)
        text = f"You are no longer a provider. {format_amount(back)} MOR came back to your wallet."
        if info.stake:
            text += (f" {format_amount(info.stake)} MOR (what you earned this period) stays "
                     "with the contract until the period ends; register and deregister again "
                     "after that to get it back.")
        self.offboard_label.setText(text)
        self.offboard.registered(False)  # neither button means anything now
        self.update_dashboard()

    # ----- dashboard -----------------------------------------------------------------------
    def update_dashboard(self) -> None:
        if self.provider is None:
            self.state_label.setText("Off")
            return
        d = self.provider.dashboard
        self.dashboard.show_state(d)
        online = d.state in (ProviderState.WAITING, ProviderState.SERVING)
        busy = self.toggle_task is not None and not self.toggle_task.done()
        if not busy and online != self.toggle.isChecked():
            # Started or stopped elsewhere (tray, autostart, the cap, the page opened later).
            self._set_toggle(online)
            self.toggle.setEnabled(True)
            if online:
                self.offboard.hide()
            else:
                self.steps = []
                clear_steps(self.progress)
            for timer in (self.uptime_timer, self.earnings_timer):
                if online:
                    timer.start()
                else:
                    timer.stop()

    def _tick_uptime(self) -> None:
        if self.provider is not None:
            self.dashboard.show_uptime(self.provider.dashboard)

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
        self.dashboard.show_earnings(e)

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
        elif (what == "chain" and self.services.chain is not None and not self.services.chain_error
              and not (self.blocker.isHidden() and self.errors.isHidden())):
            self.refresh()  # connected (again), seen or not: the checklist is re-read, errors go

    def _on_wallet_event(self, what: str) -> None:
        if what in ("unlocked", "locked", "changed"):
            self.refresh()

    def closeEvent(self, event: Any) -> None:
        wallet = self.ctx.wallet
        if wallet is not None:
            with contextlib.suppress(Exception):
                wallet.remove_listener(self._wallet_listener)
        super().closeEvent(event)
