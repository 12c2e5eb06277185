"""The Wallet page's two transfer lists: what this program sent, and MOR moving in and out on the
network. Addresses and transaction ids are shortened for reading; the full value is the cell's
tooltip and what the right-click menu's "Copy" takes, and Enter or a double click opens the
explorer."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QPoint, Qt, QUrl
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMenu, QTreeWidget, QTreeWidgetItem, QWidget

from app.ui.a11y import named
from app.ui.words import short_id
from app.wallet.units import format_amount

URL_ROLE = Qt.ItemDataRole.UserRole  # the explorer page of the row's transaction ("" if none)

ExplorerUrl = Callable[[str], str | None]


class TransferList(QTreeWidget):
    """One list of transfers; ``address_column`` and the last column hold shortened ids."""

    def __init__(
        self,
        name: str,
        headers: list[str],
        open_url: Callable[[QUrl], Any],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        named(self, name)
        self.setHeaderLabels(headers)
        self.setRootIsDecorated(False)
        self.address_column = len(headers) - 2
        self.tx_column = len(headers) - 1
        self._open_url = open_url
        self.itemActivated.connect(self._open)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu_at)
        self._menu: QMenu | None = None  # the open context menu (one at a time)

    def add_row(self, cells: list[str], address: str, tx_hash: str, url: str | None) -> None:
        item = QTreeWidgetItem(
            [
                *cells,
                short_id(address),
                short_id(tx_hash) + (" (open in explorer)" if url else ""),
            ]
        )
        item.setData(0, URL_ROLE, url or "")
        item.setToolTip(self.address_column, address)
        item.setToolTip(self.tx_column, tx_hash)
        self.addTopLevelItem(item)

    def _open(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        url = item.data(0, URL_ROLE)
        if url:
            self._open_url(QUrl(str(url)))

    def _menu_at(self, pos: QPoint) -> None:
        item = self.itemAt(pos)
        if item is not None:
            self.menu_for(item).popup(self.viewport().mapToGlobal(pos))

    def menu_for(self, item: QTreeWidgetItem) -> QMenu:
        if self._menu is not None:  # the previous one, not one more child per right click
            self._menu.deleteLater()
        menu = self._menu = QMenu(self)
        clipboard = QGuiApplication.clipboard()
        address, tx_hash = item.toolTip(self.address_column), item.toolTip(self.tx_column)
        menu.addAction("Copy address", lambda: clipboard.setText(address))
        menu.addAction("Copy transaction id", lambda: clipboard.setText(tx_hash))
        if item.data(0, URL_ROLE):
            menu.addAction("Open in explorer", lambda: self._open(item))
        return menu


def sent_list(open_url: Callable[[QUrl], Any]) -> TransferList:
    return TransferList(
        "Sent from this program", ["Status", "Token", "Amount", "To", "Transaction"], open_url
    )


def network_list(open_url: Callable[[QUrl], Any]) -> TransferList:
    return TransferList(
        "MOR transfers on the network",
        ["Block", "In or out", "MOR", "From or to", "Transaction"],
        open_url,
    )


def fill_sent(view: TransferList, records: Iterable[Any], explorer_url: ExplorerUrl) -> None:
    view.clear()
    for rec in records:
        cells = [rec.status, rec.asset, format_amount(rec.amount, 18, 6)]
        view.add_row(cells, rec.to, rec.tx_hash, explorer_url(rec.tx_hash))


def fill_network(
    view: TransferList, transfers: Iterable[Any], me: str, explorer_url: ExplorerUrl
) -> None:
    view.clear()
    for t in transfers:
        incoming = t.to.lower() == me.lower()
        cells = [str(t.block), "in" if incoming else "out", format_amount(t.amount, 18, 6)]
        view.add_row(cells, t.sender if incoming else t.to, t.tx_hash, explorer_url(t.tx_hash))
