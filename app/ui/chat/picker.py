"""The model picker: local and network models, each with a second line saying what it costs
(free, or MOR per hour) and its quality where known; the closed box elides a long name instead of
cutting it, so it fits an 800x600 window."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionComboBox,
    QStyleOptionViewItem,
    QStylePainter,
    QWidget,
)

DETAIL_ROLE = Qt.ItemDataRole.UserRole + 1

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
        self.setItemData(i, f"{label}\n{detail}" if detail else label,
                         Qt.ItemDataRole.ToolTipRole)

    def current_detail(self) -> str:
        value = self.currentData(DETAIL_ROLE)
        return str(value) if value else ""

    def paintEvent(self, _event: object) -> None:
        painter = QStylePainter(self)
        opt = QStyleOptionComboBox()
        self.initStyleOption(opt)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, opt)
        edit = self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, opt,
                                           QStyle.SubControl.SC_ComboBoxEditField, self)
        opt.currentText = self.fontMetrics().elidedText(
            opt.currentText, Qt.TextElideMode.ElideRight, max(0, edit.width() - 4))
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, opt)
