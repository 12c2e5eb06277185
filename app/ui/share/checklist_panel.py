"""The "Before you start" panel: what is missing before anything is sent, and how to fix it."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.services.provider_service import CheckItem, CheckStatus
from app.ui.share.texts import CHECK_LABELS, FIX_ADVICE, STATUS_COLOR, STATUS_TEXT, plain


class ChecklistPanel(QGroupBox):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Before you start", parent)
        self.items: list[CheckItem] = []
        lay = QVBoxLayout(self)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Status", "Check", "Details"])
        self.tree.setRootIsDecorated(False)
        self.tree.setWordWrap(True)
        # Rows as tall as their wrapped details (a tree keeps one line per row otherwise, and the
        # end of a sentence such as what to do about it would be cut off).
        self.tree.setItemDelegate(_WrapDelegate(self.tree))
        self.tree.header().sectionResized.connect(
            lambda *_a: self.tree.scheduleDelayedItemsLayout())
        self.tree.setMinimumHeight(170)
        lay.addWidget(self.tree)
        row = QHBoxLayout()
        self.status = QLabel("Checking…")
        self.status.setProperty("role", "hint")
        self.check_button = QPushButton("Check again")
        row.addWidget(self.status, 1)
        row.addWidget(self.check_button)
        lay.addLayout(row)

    def show_items(self, items: list[CheckItem]) -> int:
        """Fill the list; returns how many items must be fixed before sharing."""
        self.items = items
        self.tree.clear()
        for item in items:
            detail = plain(item.detail)
            advice = FIX_ADVICE.get(item.key, "") if item.status is not CheckStatus.OK else ""
            if advice:
                detail = f"{detail}\n→ {advice}"
            label = CHECK_LABELS.get(item.key, plain(item.label))
            row = QTreeWidgetItem([STATUS_TEXT[item.status], label, detail])
            row.setForeground(0, _brush(STATUS_COLOR[item.status]))
            row.setToolTip(2, detail)
            row.setData(0, Qt.ItemDataRole.UserRole, item.key)
            self.tree.addTopLevelItem(row)
        for col in (0, 1):
            self.tree.resizeColumnToContents(col)
        failed = [i for i in items if i.status is CheckStatus.FAIL]
        if failed:
            self.status.setText(
                f"{len(failed)} item{'s' if len(failed) != 1 else ''} to fix before sharing.")
        else:
            self.status.setText("Ready to share.")
        return len(failed)

    def status_of(self, key: str) -> CheckStatus | None:
        for item in self.items:
            if item.key == key:
                return item.status
        return None


class _WrapDelegate(QStyledItemDelegate):
    def sizeHint(self, option: QStyleOptionViewItem, index: Any) -> QSize:
        size = super().sizeHint(option, index)
        view = self.parent()
        width = view.columnWidth(index.column()) - 8 if isinstance(view, QTreeWidget) else 0
        text = str(index.data() or "")
        if width <= 0 or not text:
            return size
        box = option.fontMetrics.boundingRect(QRect(0, 0, width, 100_000),
                                              int(Qt.TextFlag.TextWordWrap), text)
        return QSize(size.width(), max(size.height(), box.height() + 6))


def _brush(color: str) -> Any:
    from PySide6.QtGui import QBrush, QColor

    return QBrush(QColor(color))
