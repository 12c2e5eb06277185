"""The model picker: local and network models, each with a second line saying what it costs
(free, or MOR per hour) and its quality where known; the closed box elides a long name instead of
cutting it, so it fits an 800x600 window."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSize
from PySide6.QtWidgets import QComboBox, QSizePolicy, QStyledItemDelegate, QWidget

from app.ui.first_paint import after_first_paint, holding

if TYPE_CHECKING:
    from PySide6.QtGui import QFontMetrics, QPainter, QPaintEvent
    from PySide6.QtWidgets import QStyleOptionComboBox, QStyleOptionViewItem

# Qt.ItemDataRole.UserRole + 1 and Qt.ItemDataRole.ToolTipRole as plain numbers: the picker is on
# the first page, and the first use of a ``Qt`` enum builds all of them (see app.ui.first_paint).
DETAIL_ROLE = 257
TOOLTIP_ROLE = 3
# The closed box's frame and arrow take less than this of its width (Fusion: ~25 px), so a name
# narrower than the rest is drawn whole by QComboBox itself; a wider one is elided here.
FRAME_ROOM = 48
FIRST_PAINT_ROOM = 25  # Fusion with our style sheet, no focus: frame 2 + 2, arrow 19, padding 2
ELLIPSIS = "\u2026"

Index = QModelIndex | QPersistentModelIndex


class TwoLineDelegate(QStyledItemDelegate):
    """A popup row: the model's name, and under it its price and quality in a smaller, muted
    font."""

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        base = super().sizeHint(option, index)
        detail = index.data(DETAIL_ROLE)
        if not detail:
            return base
        return QSize(base.width(), base.height() + option.fontMetrics.height() + 2)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        detail = index.data(DETAIL_ROLE)
        if not detail:
            super().paint(painter, option, index)
            return
        from PySide6.QtCore import QRect, Qt
        from PySide6.QtGui import QPalette
        from PySide6.QtWidgets import QStyle, QStyleOptionViewItem

        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        text = opt.text
        opt.text = ""
        widget = opt.widget
        style = widget.style() if widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        rect: QRect = opt.rect.adjusted(6, 2, -6, -2)
        fm = opt.fontMetrics
        painter.save()
        painter.setPen(opt.palette.color(role))
        painter.drawText(rect.adjusted(0, 0, 0, -fm.height()),
                         int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                         fm.elidedText(text, Qt.TextElideMode.ElideRight, rect.width()))
        font = painter.font()
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.9))
        painter.setFont(font)
        muted = opt.palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        painter.setPen(opt.palette.color(role) if selected else muted)
        painter.drawText(rect.adjusted(0, rect.height() - fm.height(), 0, 0),
                         int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                         painter.fontMetrics().elidedText(str(detail), Qt.TextElideMode.ElideRight,
                                                          rect.width()))
        painter.restore()


class ModelPicker(QComboBox):
    """A combo box that elides the current model's name to its width."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._elide_to: int | None = None  # set while painting a name that does not fit
        self.setItemDelegate(TwoLineDelegate(self))
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(14)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Model")
        self.setToolTip("The model that answers: on this computer (free) or on the network")

    def add_model(self, label: str, detail: str) -> None:
        self.addItem(label)
        i = self.count() - 1
        self.setItemData(i, detail, DETAIL_ROLE)
        self.setItemData(i, f"{label}\n{detail}" if detail else label, TOOLTIP_ROLE)

    def current_detail(self) -> str:
        value = self.currentData(DETAIL_ROLE)
        return str(value) if value else ""

    def paintEvent(self, event: QPaintEvent) -> None:
        self._elide_to = self._label_width()
        try:
            super().paintEvent(event)  # Qt draws the box; initStyleOption hands it the text
        finally:
            self._elide_to = None

    def initStyleOption(self, option: QStyleOptionComboBox) -> None:
        super().initStyleOption(option)
        width = getattr(self, "_elide_to", None)  # (None too while QComboBox is being built)
        if width is not None:
            option.currentText = elide_right(self.fontMetrics(), option.currentText, width)

    def _label_width(self) -> int | None:
        """The width the current name is elided to while painting; None when it fits."""
        text = self.currentText()
        if not text or self.fontMetrics().horizontalAdvance(text) <= self.width() - FRAME_ROOM:
            return None
        if holding():
            # The launch's first paint: the edit field of our style when the box has no focus
            # (asking the style costs ~10 ms of PySide6 set-up); exact again right after it.
            after_first_paint(self.update)
            return self.width() - FIRST_PAINT_ROOM - 4
        from PySide6.QtWidgets import QStyle, QStyleOptionComboBox

        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        edit = self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, opt,
                                           QStyle.SubControl.SC_ComboBoxEditField, self)
        return edit.width() - 4


def warm_style_enums() -> None:
    """Build PySide6's ``QStyle`` enums now (~20 ms the first time), while the window is idle,
    instead of in the paint that first elides a long name (opening a session)."""
    from PySide6.QtWidgets import QStyle

    _ = QStyle.ComplexControl.CC_ComboBox, QStyle.SubControl.SC_ComboBoxEditField


def elide_right(metrics: QFontMetrics, text: str, width: int) -> str:
    """``text`` cut to ``width`` pixels with "…" at the end, as ``QFontMetrics.elidedText`` with
    ``Qt.TextElideMode.ElideRight`` would, without the ``Qt`` enum (see app.ui.first_paint)."""
    if metrics.horizontalAdvance(text) <= width:
        return text
    low, high = 0, len(text)  # the longest prefix that fits with the ellipsis: in [low, high)
    while high - low > 1:
        mid = (low + high) // 2
        if metrics.horizontalAdvance(text[:mid].rstrip() + ELLIPSIS) <= width:
            low = mid
        else:
            high = mid
    shown = text[:low].rstrip()
    return shown + ELLIPSIS if shown or metrics.horizontalAdvance(ELLIPSIS) <= width else ""
