"""Remote chat on the Chat page: network models in the model picker and, while one is picked,
its offers (price, rating, reachability), "Open session" and the session bar.

The session logic (open, close, failover) lives in :mod:`app.services.remote_chat`; this module
only shows it and starts its coroutines through :mod:`app.ui.ops`, so the window never waits on
the chain or a provider. It knows the page only as a :class:`ChatHost`, so the page may import it
without a cycle.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Coroutine
from typing import Any, Protocol

from PySide6.QtCore import Qt, Signal, SignalInstance, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.errors import UserFacingError
from app.market.rating import RatedBid
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
from app.ui.chat.open_session import OpenSessionDialog
from app.ui.chat.session_bar import SessionBar
from app.ui.chat.sources import ChatSource, add_source_provider
from app.ui.formatting import mor_per_hour
from app.ui.ops import Op

log = logging.getLogger(__name__)

REGISTRY_KEY = "remote_chats"
INSTALLED_KEY = "remote_chat_installed"


class ChatHost(Protocol):
    """What the panel needs of the Chat page (the page is a QWidget with these)."""

    @property
    def ctx(self) -> AppContext: ...
    @property
    def prompt(self) -> QPlainTextEdit: ...
    @property
    def source_changed(self) -> SignalInstance: ...

    def show_status(self, text: str, *, error: bool = False) -> None: ...
    def add_panel(self, widget: QWidget) -> None: ...
    def current_source(self) -> ChatSource | None: ...
    def refresh_sources(self) -> Coroutine[Any, Any, None]: ...


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
        out.append(ChatSource(model.label, remote, model.key, network_detail(model)))
    for key, remote in reg.items():  # no offers left, but a session still open: keep it usable
        if key not in seen and remote.is_open:
            out.append(ChatSource(remote.model.label, remote, remote.model.key,
                                  "Your session is open"))
    return out


class RemoteChatPanel(QWidget):
    """Visible while a network model is picked: its offers, "Open session", the session bar."""

    COLUMNS = ("Provider", "Price", "Quality", "Reachability")
    wallet_changed = Signal()  # the wallet unlocked or locked (from any thread)

    def __init__(self, page: ChatHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.page = page
        self.remote: RemoteChat | None = None
        self._watched: set[int] = set()
        self.dialog: OpenSessionDialog | None = None
        self.ping_tasks: list[asyncio.Task[Any]] = []
        self.reachability: dict[str, Reachability] = {}
        self.offers_label = QLabel("")
        self.offers_label.setWordWrap(True)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setMaximumHeight(140)
        self.table.setAccessibleName("Providers offering this model")
        self.open_button = QPushButton("Open session")
        self.open_button.setAccessibleName("Open a session with the chosen provider")
        self.refresh_button = QPushButton("Refresh offers")
        self.refresh_button.setAccessibleName("Refresh the providers' offers")
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

    @Slot()
    def refresh_sources(self) -> None:
        Op(self.page.refresh_sources(), self).run()

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
                task = Op(self._ping(remote, rb.bid.provider), self).run()
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
        if self.dialog is not None and self.dialog.isVisible():
            return self.dialog  # a double click opens one dialog, not two
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
        Op(self.page.refresh_sources(), self).run()

    def _update_buttons(self) -> None:
        busy = self.remote is not None and self.remote.state in (
            RemoteState.OPENING, RemoteState.SWITCHING, RemoteState.CLOSING
        )
        self.open_button.setEnabled(self.selected_offer() is not None and not busy)

    def _update_view(self) -> None:
        remote = self.remote
        self.offers.setVisible(remote is not None and not remote.is_open)
        self._update_buttons()


def install_remote_chat(page: ChatHost) -> RemoteChatPanel:
    """Add network models to ``page``'s picker and the remote panel above its transcript."""
    ctx = page.ctx
    if not ctx.extras.get(INSTALLED_KEY):
        ctx.extras[INSTALLED_KEY] = True

        async def provider() -> list[ChatSource]:
            return await network_sources(ctx)

        add_source_provider(ctx, provider)
    panel = RemoteChatPanel(page, page if isinstance(page, QWidget) else None)
    page.add_panel(panel)
    page.source_changed.connect(panel.set_source)
    panel.set_source(page.current_source())
    watch_for_network_models(page, panel)
    return panel


def watch_for_network_models(page: ChatHost, panel: RemoteChatPanel) -> None:
    """Refresh the picker when the chain connects or the wallet unlocks or locks.

    The services object is created here if nobody has yet: at launch the Chat page is built
    before the status bar's feed creates it, and a page that waited for it would never hear the
    "chain connected" and "wallet unlocked" that make network models available (issue 16).
    """
    from app.services.app_services import services_of

    ctx = page.ctx

    def refresh() -> None:
        Op(page.refresh_sources(), panel).run()

    # Wallet events may come from a worker thread (the automatic unlock): queued to the panel's.
    panel.wallet_changed.connect(panel.refresh_sources, Qt.ConnectionType.QueuedConnection)

    def on_services(what: str) -> None:
        if what in ("wallet", "chain"):
            refresh()

    services_of(ctx).on_change(on_services)
    wallet = ctx.wallet
    if wallet is not None and hasattr(wallet, "add_listener"):
        def on_wallet(event: str) -> None:
            if event in ("unlocked", "locked"):
                panel.wallet_changed.emit()

        wallet.add_listener(on_wallet)
        panel.destroyed.connect(lambda *_: wallet.remove_listener(on_wallet))


def network_detail(model: NetworkModel) -> str:
    """The picker's second line for a network model: lowest price per hour, best quality."""
    if not model.bids:
        return "No offers right now"
    cheapest = min(rb.bid.price_per_second for rb in model.bids)
    best = max(model.bids, key=lambda rb: rb.total)
    return f"from {mor_per_hour(cheapest)} · quality {_rating_text(best)}"


def _rating_text(rb: RatedBid) -> str:
    """The on-chain track record (speed, latency, uptime, success, stake) as a 0–5 score; the
    ranking itself also divides by price, like the reference node's rating."""
    return f"{rb.total * 5:.1f} / 5"
