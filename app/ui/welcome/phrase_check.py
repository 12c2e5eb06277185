"""The recovery-phrase check: pick the words in order from a fixed grid of buttons.

Why fixed: the word buttons never move while words are picked (a click always lands on the word
the user aimed at). The picked words show in their own area of fixed height above the grid, one
slot per word, so nothing there can wrap and push the buttons down.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

COLUMNS = 4


class PhraseCheck(QWidget):
    """Slots for the picked words (fixed height) above the word buttons (fixed grid)."""

    def __init__(self, on_pick: Callable[[str, QPushButton], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._on_pick = on_pick
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.picked_area = QFrame()
        self.picked_area.setObjectName("pickedWords")
        self.picked_area.setFrameShape(QFrame.Shape.StyledPanel)
        self.picked_area.setAccessibleName("Words picked so far")
        self.picked_grid = QGridLayout(self.picked_area)
        lay.addWidget(self.picked_area)
        self.buttons_area = QWidget()
        self.buttons_area.setObjectName("wordButtons")
        self.buttons_grid = QGridLayout(self.buttons_area)
        for col in range(COLUMNS):
            self.buttons_grid.setColumnStretch(col, 1)
            self.picked_grid.setColumnStretch(col, 1)
        lay.addWidget(self.buttons_area)
        self.buttons: list[QPushButton] = []
        self.slots: list[QLabel] = []

    def fill(self, choices: list[str]) -> None:
        """One button per word (shuffled order) and one empty slot per word."""
        for grid in (self.buttons_grid, self.picked_grid):
            while grid.count():
                item = grid.takeAt(0)
                widget = item.widget() if item is not None else None
                if widget is not None:
                    widget.deleteLater()
        self.buttons, self.slots = [], []
        for i, word in enumerate(choices):
            b = QPushButton(word)
            b.setAccessibleName(f"Word {word}")
            b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            b.setAutoDefault(True)  # Enter picks the focused word
            b.clicked.connect(lambda _=False, w=word, btn=b: self._on_pick(w, btn))
            self.buttons_grid.addWidget(b, i // COLUMNS, i % COLUMNS)
            self.buttons.append(b)
            slot = QLabel()
            slot.setObjectName("pickedSlot")
            # Ignored width: a longer word never widens a column (and never moves anything).
            slot.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            self.picked_grid.addWidget(slot, i // COLUMNS, i % COLUMNS)
            self.slots.append(slot)
        rows = max(1, (len(choices) + COLUMNS - 1) // COLUMNS)
        line = self.fontMetrics().height() + 6
        margins = self.picked_grid.contentsMargins()
        self.picked_area.setFixedHeight(
            rows * line + (rows - 1) * max(0, self.picked_grid.verticalSpacing())
            + margins.top() + margins.bottom()
        )
        self.show_picked([])

    def show_picked(self, picked: list[str]) -> None:
        for i, slot in enumerate(self.slots):
            word = picked[i] if i < len(picked) else "\u2026"
            text = f"{i + 1}. {word}"
            slot.setText(text)
            slot.setToolTip(text if i < len(picked) else "")
            slot.setAccessibleName(f"Word {i + 1}: {picked[i]}" if i < len(picked)
                                   else f"Word {i + 1}: not picked yet")

    def picked_text(self) -> list[str]:
        return [s.text() for s in self.slots]
