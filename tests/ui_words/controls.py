"""Interactive controls and what a screen reader calls them (Qt's accessibility interface: the
accessible name, else the visible text, else the form label that is the control's buddy)."""

from __future__ import annotations

from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QScrollBar,
    QTextEdit,
    QWidget,
)

INTERACTIVE = (QAbstractButton, QLineEdit, QPlainTextEdit, QTextEdit, QComboBox,
               QAbstractSpinBox, QAbstractSlider, QAbstractItemView)


def _where(w: QWidget) -> str:
    parts = []
    cur: QWidget | None = w
    while cur is not None and len(parts) < 4:
        parts.append(cur.objectName() or type(cur).__name__)
        cur = cur.parentWidget()
    return "/".join(reversed(parts))


def controls(root: QWidget) -> list[QWidget]:
    """Visible interactive controls under ``root`` (not the pieces Qt builds inside a control,
    such as a spin box's line edit or a scroll area's scroll bars)."""
    found = []
    for w in root.findChildren(QWidget):
        if not isinstance(w, INTERACTIVE) or not w.isVisibleTo(w.window()):
            continue
        if isinstance(w, (QHeaderView, QScrollBar)) or w.objectName().startswith("qt_"):
            continue  # part of a table or scroll area: the view itself is the control
        if _inside_control(w):
            continue
        found.append(w)
    return found


def _inside_control(w: QWidget) -> bool:
    """A piece of another control (a combo box's popup list, a spin box's line edit)."""
    cur = w.parentWidget()
    while cur is not None:
        if isinstance(cur, (QComboBox, QAbstractSpinBox)):
            return True
        cur = cur.parentWidget()
    return False


def accessible_name(w: QWidget) -> str:
    iface = QAccessible.queryAccessibleInterface(w)
    name = iface.text(QAccessible.Text.Name) if iface is not None else ""
    return (name or w.accessibleName() or "").strip()


def unnamed(root: QWidget) -> list[str]:
    """The controls a screen reader could not name."""
    return [f"{_where(w)} ({type(w).__name__})" for w in controls(root)
            if not accessible_name(w)]


def tab_reachable(root: QWidget) -> list[str]:
    """Controls that take keyboard focus but that Tab never reaches from the first one."""
    from PySide6.QtCore import Qt

    want = [w for w in controls(root) if w.isEnabled()
            and w.focusPolicy() & Qt.FocusPolicy.TabFocus]
    if not want:
        return []
    seen: set[int] = set()
    w: QWidget = want[0]
    for _ in range(2000):
        seen.add(id(w))
        w = w.nextInFocusChain()
        if w is want[0]:
            break
    return [f"{_where(x)} ({type(x).__name__})" for x in want if id(x) not in seen]
