"""Remote chat on the Chat page: network models in the model picker, their offers (price, rating,
reachability), the "Open session" dialog (duration → stake, balance check, what comes back when),
and the session bar (countdown, stake, Close and its result).

The session logic (open, close, failover) lives in :mod:`app.services.remote_chat`; this module
only shows it and starts its coroutines on the qasync loop, so the window never waits on the chain
or a provider.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Coroutine
from datetime import datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.errors import UserFacingError
from app.market.rating import RatedBid
from app.services.consumer_service import MIN_SESSION_S, StakeQuote
from app.services.context import AppContext
from app.services.remote_chat import (
    NetworkModel,
    Reachability,
    RemoteChat,
    RemoteState,
    network_models,
    ping_provider,
    short_address,
)
from app.storage.sessions import SessionRecord
from app.ui.chat_sources import ChatSource, add_source_provider
from app.wallet.units import format_amount

if TYPE_CHECKING:
    from app.ui.chat_page import ChatPage

log = logging.getLogger(__name__)

REGISTRY_KEY = "remote_chats"
INSTALLED_KEY = "remote_chat_installed"
DEFAULT_MINUTES = 30
QUOTE_DEBOUNCE_MS = 300
TICK_MS = 1000
ERROR_STYLE = "color: #b91c1c;"


# -- formatting ------------------------------------------------------------------------------


def mor(wei: int, digits: int = 4) -> str:
    return f"{format_amount(wei, 18, digits)} MOR"


def mor_per_hour(price_per_second: int) -> str:
    return f"{format_amount(price_per_second * 3600, 18, 4)} MOR/hour"


def hms(seconds: int) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def local_time(timestamp: int) -> str:
    """A chain timestamp as the user's local date and time."""
    return datetime.fromtimestamp(timestamp).astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()


def duration_text(seconds: int) -> str:
    h, m = divmod(max(0, seconds) // 60, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min"


def returns_text(next_midnight: int) -> str:
    return (
        "Closing before the end returns the unused stake at once; the part for today's use is "
        f"held until {local_time(next_midnight)} and then returned automatically. If the session "
        "runs to its end, the whole stake comes back when it closes."
    )


def closed_text(rec: SessionRecord) -> str:
    text = f"Session closed. {mor(rec.refunded)} came back to your wallet now"
    if rec.on_hold:
        until = local_time(rec.on_hold_until) if rec.on_hold_until else "the next UTC midnight"
        text += f"; {mor(rec.on_hold)} is held until {until} and then returned automatically"
    return text + "."


def _spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
    """Run ``coro`` on the running (qasync) loop; ``None`` in a widget with no loop."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        coro.close()
        return None
    return loop.create_task(coro)


# -- the model picker's network entries ------------------------------------------------------


def registry(ctx: AppContext) -> dict[str, RemoteChat]:
    reg: dict[str, RemoteChat] = ctx.extras.setdefault(REGISTRY_KEY, {})
    return reg


async def network_sources(ctx: AppContext) -> list[ChatSource]:
    """One picker entry per network model; each one's ``RemoteChat`` survives refreshes, so an
    open session is never lost by re-reading the market."""
    wallet = ctx.wallet
    if wallet is None or not getattr(wallet, "is_unlocked", False):
        return []
    from app.services.app_services import services_of

    try:
        consumer = await services_of(ctx).consumer()
        models = await network_models(consumer)
    except UserFacingError as exc:
        log.info("network models unavailable: %s", exc.message)
        return []
    reg = registry(ctx)
    seen: set[str] = set()
    out: list[ChatSource] = []
    for model in models:
        key = model.name.lower()
        seen.add(key)
        remote = reg.get(key)
        if remote is None or (remote.consumer is not consumer and not remote.is_open):
            remote = reg[key] = RemoteChat(consumer, model)
        else:
            remote.model = model
        out.append(ChatSource(model.label, remote, model.key))
    for key, remote in reg.items():  # no offers left, but a session still open: keep it usable
        if key not in seen and remote.is_open:
            out.append(ChatSource(remote.model.label, remote, remote.model.key))
    return out


# -- the open-session dialog -----------------------------------------------------------------


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
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(MIN_SESSION_S // 60, MIN_SESSION_S // 60)
        self.slider.setSingleStep(5)
        self.slider.setPageStep(30)
        self.duration_label = QLabel("")
        self.stake_label = QLabel("Working out the stake…")
        self.balance_label = QLabel("")
        self.balance_label.setWordWrap(True)
        self.returns_label = QLabel("")
        self.returns_label.setWordWrap(True)
        self.returns_label.setProperty("role", "hint")
        self.steps_label = QLabel("")
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
        layout.addWidget(self.balance_label)
        layout.addWidget(self.returns_label)
        layout.addWidget(self.steps_label)
        layout.addWidget(self.error_label)
        layout.addLayout(buttons)
        self.setMinimumWidth(460)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(QUOTE_DEBOUNCE_MS)
        self._debounce.timeout.connect(self._requote)
        self.slider.valueChanged.connect(self._on_slider)
        self.open_button.clicked.connect(self._on_open)
        self.cancel_button.clicked.connect(self.reject)
        self.init_task = _spawn(self._init())

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
        self.quote_task = _spawn(self._quote(self.duration_s))

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
        self.open_button.setEnabled(q.affordable and self.open_task is None)
        self.quoted.emit(q)

    def _on_open(self) -> None:
        if self.quote is None or not self.quote.affordable or self.open_task is not None:
            return
        self.open_button.setEnabled(False)
        self.slider.setEnabled(False)
        self.error_label.setVisible(False)
        self.open_task = _spawn(self._open(self._quoted_for))

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


# -- the session bar -------------------------------------------------------------------------


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
        self.timer_label = QLabel("")
        self.timer_label.setToolTip("Time left in this session")
        self.stake_label = QLabel("")
        self.close_button = QPushButton("Close session")
        self.close_button.setToolTip("End the session now and get the unused stake back")
        self.result_label = QLabel("")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QHBoxLayout()
        row.addWidget(self.provider_label)
        row.addStretch(1)
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
        self.close_task = _spawn(self._close(self.remote))

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


# -- the panel above the transcript ----------------------------------------------------------


class RemoteChatPanel(QWidget):
    """Visible while a network model is picked: its offers, "Open session", the session bar."""

    COLUMNS = ("Provider", "Price", "Quality", "Reachability")

    def __init__(self, page: ChatPage) -> None:
        super().__init__(page)
        self.page = page
        self.remote: RemoteChat | None = None
        self._watched: set[int] = set()
        self.dialog: OpenSessionDialog | None = None
        self.ping_tasks: list[asyncio.Task[Any]] = []
        self.reachability: dict[str, Reachability] = {}
        self.offers_label = QLabel("")
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setMaximumHeight(140)
        self.open_button = QPushButton("Open session")
        self.refresh_button = QPushButton("Refresh offers")
        self.session_bar = SessionBar()
        self.offers = QWidget()
        ov = QVBoxLayout(self.offers)
        ov.setContentsMargins(0, 0, 0, 0)
        ov.addWidget(self.offers_label)
        ov.addWidget(self.table)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.refresh_button)
        row.addWidget(self.open_button)
        ov.addLayout(row)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.offers)
        layout.addWidget(self.session_bar)
        self.open_button.clicked.connect(self.open_dialog)
        self.refresh_button.clicked.connect(self._on_refresh)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.setVisible(False)

    # which model -------------------------------------------------------------------------------
    def set_source(self, source: ChatSource | None) -> None:
        engine = source.engine if source is not None else None
        remote = engine if isinstance(engine, RemoteChat) else None
        if remote is not None and id(remote) not in self._watched:
            self._watched.add(id(remote))
            remote.on_change(functools.partial(self._changed, remote))
        self.remote = remote
        self.setVisible(remote is not None)
        self.session_bar.set_remote(remote)
        if remote is not None:
            self._fill_offers(remote)
        self._update_view()

    def _changed(self, remote: RemoteChat) -> None:
        if remote is self.remote:
            self._update_view()

    def _fill_offers(self, remote: RemoteChat) -> None:
        model: NetworkModel = remote.model
        self.offers_label.setText(
            f"Providers offering {model.name} (best rated first). Pick one and open a session; "
            "you pay only for the time you use."
        )
        self.table.setRowCount(len(model.bids))
        for row, rb in enumerate(model.bids):
            bid = rb.bid
            cells = (short_address(bid.provider), mor_per_hour(bid.price_per_second),
                     _rating_text(rb), self._reach_text(bid.provider))
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, bid.id)
                if col == 0:
                    item.setToolTip(bid.provider)
                self.table.setItem(row, col, item)
        if model.bids:
            self.table.selectRow(0)
        for rb in model.bids:
            addr = rb.bid.provider.lower()
            if addr not in self.reachability:
                task = _spawn(self._ping(remote, rb.bid.provider))
                if task is not None:
                    self.ping_tasks.append(task)

    def _reach_text(self, provider: str) -> str:
        r = self.reachability.get(provider.lower())
        return "checking…" if r is None else r.text

    async def _ping(self, remote: RemoteChat, provider: str) -> None:
        result = await ping_provider(remote.consumer, provider)
        self.reachability[provider.lower()] = result
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.toolTip().lower() == provider.lower():
                cell = self.table.item(row, 3)
                if cell is not None:
                    cell.setText(result.text)
                    cell.setToolTip(result.detail)

    def reachability_texts(self) -> list[str]:
        items = (self.table.item(r, 3) for r in range(self.table.rowCount()))
        return [item.text() if item is not None else "" for item in items]

    def selected_offer(self) -> RatedBid | None:
        if self.remote is None:
            return None
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        bid_id = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return next((rb for rb in self.remote.model.bids if rb.bid.id == bid_id), None)

    # actions -----------------------------------------------------------------------------------
    def open_dialog(self) -> OpenSessionDialog | None:
        offer = self.selected_offer()
        if self.remote is None or offer is None or self.remote.is_open:
            return None
        self.dialog = OpenSessionDialog(self.remote, offer, self)
        self.dialog.opened.connect(self._on_opened)
        self.dialog.open()
        return self.dialog

    def _on_opened(self, _rec: SessionRecord) -> None:
        self.page.show_status("Session open: your messages now go to the provider.")
        self.page.prompt.setFocus()
        self._update_view()

    def _on_refresh(self) -> None:
        self.reachability.clear()
        _spawn(self.page.refresh_sources())

    def _update_buttons(self) -> None:
        busy = self.remote is not None and self.remote.state in (
            RemoteState.OPENING, RemoteState.SWITCHING, RemoteState.CLOSING
        )
        self.open_button.setEnabled(self.selected_offer() is not None and not busy)

    def _update_view(self) -> None:
        remote = self.remote
        self.offers.setVisible(remote is not None and not remote.is_open)
        self._update_buttons()


def install_remote_chat(page: ChatPage) -> RemoteChatPanel:
    """Add network models to ``page``'s picker and the remote panel above its transcript."""
    ctx = page.ctx
    if not ctx.extras.get(INSTALLED_KEY):
        ctx.extras[INSTALLED_KEY] = True

        async def provider() -> list[ChatSource]:
            return await network_sources(ctx)

        add_source_provider(ctx, provider)
    panel = RemoteChatPanel(page)
    page.add_panel(panel)
    page.source_changed.connect(panel.set_source)
    panel.set_source(page.current_source())
    services = ctx.extras.get("services")
    if services is not None and hasattr(services, "on_change"):
        def on_services(what: str) -> None:
            if what in ("wallet", "chain"):
                _spawn(page.refresh_sources())

        services.on_change(on_services)
    return panel


def _rating_text(rb: RatedBid) -> str:
    """The on-chain track record (speed, latency, uptime, success, stake) as a 0–5 score; the
    ranking itself also divides by price, like the reference node's rating."""
    return f"{rb.total * 5:.1f} / 5"
