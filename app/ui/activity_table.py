"""The Activity page's tables: wrapped columns that share the spare width, Copy of the whole id
behind a shortened one, and column widths that grow with a changed row instead of being measured
over every row on every change (Qt's ResizeToContents does that, which stalled streaming)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QWidget,
)

from app.ui.words import short_id


class ActivityTable(QTableWidget):
    """Wrapped columns keep their width on a narrow window (the table scrolls sideways) and share
    the spare room on a wide one, so the words use the space instead of a blank strip.

    With ``grow=True`` the other columns are sized by the table itself: ``fit_row`` widens them
    for one changed row and ``fit_columns`` measures every row (after a full rebuild), so an
    update costs one row, not the whole table."""

    def __init__(self, columns: int, wrapped: dict[int, int], grow: bool = False) -> None:
        super().__init__(0, columns)
        self.wrapped = wrapped
        self.grow = grow
        self._fit_timer = QTimer(self)  # one fit after a burst of content-sized columns changing
        self._fit_timer.setSingleShot(True)
        self._fit_timer.timeout.connect(self.fit_wrapped)
        self.horizontalHeader().sectionResized.connect(
            lambda col, _old, _new: col in self.wrapped or self._fit_timer.start(0))
        # Shortened ids are whole in the tooltip; Copy (menu or Ctrl+C) takes the whole one.
        self.copy_action = QAction("Copy", self)
        self.copy_action.setShortcut(QKeySequence.StandardKey.Copy)
        self.copy_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)  # this table only
        self.copy_action.triggered.connect(self.copy_current)
        self.addAction(self.copy_action)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

    def copy_current(self) -> None:
        item = self.currentItem()
        if item is not None:
            QGuiApplication.clipboard().setText(item.toolTip() or item.text())

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self.fit_wrapped()

    def fitted_columns(self) -> list[int]:
        return [c for c in range(self.columnCount()) if c not in self.wrapped]

    def fit_row(self, row: int) -> None:
        """Widen a content-sized column when this row needs more room, then fit its height."""
        header = self.horizontalHeader()
        for col in self.fitted_columns():
            widget = self.cellWidget(row, col)
            if widget is not None:
                need = widget.sizeHint().width()
            else:
                need = self.sizeHintForIndex(self.model().index(row, col)).width()
            need += 1 if self.showGrid() else 0
            if need > header.sectionSize(col):
                header.resizeSection(col, need)
        self.resizeRowToContents(row)

    def fit_columns(self) -> None:
        """Measure every row once (after a full rebuild), narrowing columns as well."""
        for col in self.fitted_columns():
            self.resizeColumnToContents(col)
        self.fit_wrapped()

    def fit_wrapped(self) -> None:
        if not self.wrapped:
            return
        header = self.horizontalHeader()
        others = sum(header.sectionSize(c) for c in range(self.columnCount())
                     if c not in self.wrapped)
        spare = self.viewport().width() - others - sum(self.wrapped.values())
        extra = max(0, spare) // len(self.wrapped)
        for col, width in self.wrapped.items():
            self.setColumnWidth(col, width + extra)
        self.resizeRowsToContents()


def make_table(columns: list[str], wrapped: dict[int, int] | None = None, *,
               grow: bool = False) -> ActivityTable:
    t = ActivityTable(len(columns), wrapped or {}, grow)
    t.setHorizontalHeaderLabels(columns)
    t.verticalHeader().hide()
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setWordWrap(True)
    header = t.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive if grow
                                else QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(False)
    for col, width in (wrapped or {}).items():
        header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
        t.setColumnWidth(col, width)
    if grow:
        t.fit_columns()  # the titles' widths to start with
    t.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    return t


def tx_cell(hashes: tuple[str, ...], network: Any) -> QWidget:
    """Explorer links when the network has an explorer; otherwise the hashes, shortened and
    selectable, with a copy button for the whole ones (the devnet has no explorer)."""
    w = QWidget()
    lay = QHBoxLayout(w)
    lay.setContentsMargins(2, 0, 2, 0)
    label = QLabel()
    label.setObjectName("txLinks")
    label.setTextInteractionFlags(
        Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.LinksAccessibleByMouse
    )
    label.setOpenExternalLinks(True)
    if not hashes:
        label.setText("—")
        lay.addWidget(label)
        return w
    urls = [network.tx_url(h) if network is not None else "" for h in hashes]
    if all(urls):
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setText("<br>".join(f'<a href="{u}">{short_id(h)}</a>' for h, u in zip(hashes, urls,
                                                                                    strict=True)))
    else:  # shortened for reading; the whole hashes in the tooltip and behind "Copy"
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setText("\n".join(short_id(h) for h in hashes))
    label.setToolTip("\n".join(hashes))
    label.setProperty("urls", urls)
    lay.addWidget(label, 1)
    copy = QPushButton("Copy")
    copy.setObjectName("copyTx")
    copy.setToolTip("Copy the transaction hashes")
    copy.clicked.connect(lambda: QGuiApplication.clipboard().setText("\n".join(hashes)))
    lay.addWidget(copy)
    return w
