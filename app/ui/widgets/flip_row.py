"""A row of panels that turns into a column when the window is narrow (800x600 and up must read
whole: side by side, a wallet address and the balances cut each other off)."""

from __future__ import annotations

from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QBoxLayout, QWidget


class FlipRow(QWidget):
    """Lays its children left to right from ``wide_from`` pixels wide, top to bottom below."""

    def __init__(self, wide_from: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.wide_from = wide_from
        self.box = QBoxLayout(QBoxLayout.Direction.TopToBottom, self)
        self.box.setContentsMargins(0, 0, 0, 0)

    def resizeEvent(self, event: QResizeEvent) -> None:
        wide = event.size().width() >= self.wide_from
        direction = QBoxLayout.Direction.LeftToRight if wide else QBoxLayout.Direction.TopToBottom
        if self.box.direction() != direction:
            self.box.setDirection(direction)
        super().resizeEvent(event)
