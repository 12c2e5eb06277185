"""Walk what a user can read in a widget tree: every visible label, button, group title, table
header and cell, tree item, tooltip, placeholder, combo entry and window title, except inside a
"Details" section (a widget whose ``details`` property is true: technical detail on request).

Shared by the words tests (no jargon) and the layout tests (no clipped text)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from PySide6.QtWidgets import (
    QAbstractButton,
    QComboBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTableWidget,
    QTextEdit,
    QTreeWidget,
    QTreeWidgetItemIterator,
    QWidget,
)

# Words a person who is not a developer does not know (issue 16, "Plain words").
JARGON = re.compile(
    r"\b(wei|gas|rpc|nonce|anvil|bid\s*id)\b|\b(consumer|provider)\.[a-z]", re.IGNORECASE
)


@dataclass(frozen=True)
class Seen:
    where: str  # object path and kind, to find the widget
    text: str


def in_details(w: QWidget | None) -> bool:
    """True for a widget inside a "Details"/advanced section."""
    while w is not None:
        if w.property("details"):
            return True
        w = w.parentWidget()
    return False


def shown(w: QWidget) -> bool:
    """Shown within its window (a page not on top of the stack is not)."""
    return w.isWindow() or w.isVisibleTo(w.window())


def widget_path(w: QWidget) -> str:
    """Where a widget is, for a failure message: its last four ancestors' names."""
    parts = []
    cur: QWidget | None = w
    while cur is not None and len(parts) < 4:
        parts.append(cur.objectName() or type(cur).__name__)
        cur = cur.parentWidget()
    return "/".join(reversed(parts))


def _plain(text: str) -> str:
    """Rich text without its tags and link targets (an href is not read by the user)."""
    return re.sub(r"<[^>]+>", " ", text) if "<" in text else text


def texts(root: QWidget) -> Iterator[Seen]:
    """Every string a user can read in ``root`` (itself included), outside details sections."""
    widgets = [root, *root.findChildren(QWidget)]
    for w in widgets:
        if in_details(w) or not (w is root or shown(w)):
            continue
        where = widget_path(w)
        if w.toolTip():
            yield Seen(where + " [tooltip]", _plain(w.toolTip()))
        if w.accessibleName():
            yield Seen(where + " [accessible name]", w.accessibleName())
        if w.isWindow() and w.windowTitle():
            yield Seen(where + " [window title]", w.windowTitle())
        if isinstance(w, QLabel):
            yield Seen(where, _plain(w.text()))
        elif isinstance(w, QAbstractButton):
            yield Seen(where, w.text())
        elif isinstance(w, QGroupBox):
            yield Seen(where, w.title())
        elif isinstance(w, QLineEdit):
            yield Seen(where + " [placeholder]", w.placeholderText())
            if w.isReadOnly():
                yield Seen(where, w.text())
        elif isinstance(w, (QPlainTextEdit, QTextEdit)):
            yield Seen(where + " [placeholder]", w.placeholderText())
            if w.isReadOnly():
                yield Seen(where, w.toPlainText())
        elif isinstance(w, QComboBox):
            for i in range(w.count()):
                yield Seen(f"{where} [item {i}]", w.itemText(i))
        elif isinstance(w, QTableWidget):
            for c in range(w.columnCount()):
                h = w.horizontalHeaderItem(c)
                if h is not None and not w.isColumnHidden(c):
                    yield Seen(f"{where} [header {c}]", h.text())
            for r in range(w.rowCount()):
                for c in range(w.columnCount()):
                    item = w.item(r, c)
                    if item is not None and not w.isColumnHidden(c):
                        yield Seen(f"{where} [cell {r},{c}]", item.text())
                        yield Seen(f"{where} [cell {r},{c} tooltip]", item.toolTip())
        elif isinstance(w, QTreeWidget):
            head = w.headerItem()
            for c in range(w.columnCount()):
                yield Seen(f"{where} [header {c}]", head.text(c))
            it = QTreeWidgetItemIterator(w)
            while it.value() is not None:
                item = it.value()
                for c in range(w.columnCount()):
                    yield Seen(f"{where} [item {item.text(0)[:20]} col {c}]", item.text(c))
                    yield Seen(f"{where} [item tooltip col {c}]", item.toolTip(c))
                it += 1


def jargon(root: QWidget) -> list[str]:
    """``where: text`` for each readable string that uses a word from :data:`JARGON`."""
    return [f"{s.where}: {s.text!r}" for s in texts(root) if s.text and JARGON.search(s.text)]
