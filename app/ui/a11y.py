"""Names for screen readers: a control whose purpose its own text does not say (a table, a
password field, a short button) gets an accessible name, and a tooltip where the short text
needs the longer sentence."""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtWidgets import QWidget

W = TypeVar("W", bound=QWidget)


def named(widget: W, name: str, tip: str = "") -> W:
    """``widget`` with an accessible name (and tooltip); returned for use in an expression."""
    widget.setAccessibleName(name)
    if tip:
        widget.setToolTip(tip)
    return widget
