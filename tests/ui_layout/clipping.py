"""What a user cannot read because it is cut off: a label or button whose text is wider than the
widget (without word wrap), a wrapped label shorter than its text needs, a table header narrower
than its title. Measured with the widget's own font metrics; "Details" sections count too (when
open they must fit as well), hidden widgets do not."""

from __future__ import annotations

import re

from PySide6 import QtGui
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics, QTextDocument
from PySide6.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QLabel,
    QPushButton,
    QRadioButton,
    QTableWidget,
    QTreeWidget,
    QWidget,
)

from tests.ui_words.scan import shown, widget_path

SLACK = 2  # rounding between font metrics and layout


def _label_text_width(label: QLabel) -> int:
    text = label.text()
    fm = QFontMetrics(label.font())
    rich = label.textFormat() == Qt.TextFormat.RichText or (
        label.textFormat() == Qt.TextFormat.AutoText and QtGui.Qt.mightBeRichText(text))
    if rich:
        doc = QTextDocument()
        doc.setDefaultFont(label.font())
        doc.setDocumentMargin(0)
        doc.setHtml(text)
        return int(doc.idealWidth())
    return max((fm.horizontalAdvance(line) for line in text.split("\n")), default=0)


def _elided_by_design(w: QWidget) -> bool:
    """A widget that elides its own text (and keeps the whole text in its tooltip)."""
    return bool(w.property("elides"))


def clipped(root: QWidget) -> list[str]:
    """One line per piece of text that does not fit where it is shown."""
    problems: list[str] = []
    for w in [root, *root.findChildren(QWidget)]:
        if not shown(w) or _elided_by_design(w) or w.width() <= 0:
            continue
        if isinstance(w, QLabel) and w.text() and w.pixmap().isNull():
            avail = w.contentsRect().width() - 2 * max(0, w.margin()) - max(0, w.indent())
            if w.wordWrap():
                need = w.heightForWidth(w.width())
                if need > w.height() + SLACK:
                    problems.append(f"{widget_path(w)}: wrapped text needs {need}px height, has "
                                    f"{w.height()}: {w.text()[:60]!r}")
                longest = max((len(x) for x in re.split(r"\s+", w.text())), default=0)
                if longest > 60:  # one unbreakable word (a hash) cannot wrap
                    fm = QFontMetrics(w.font())
                    word = max(re.split(r"\s+", w.text()), key=len)
                    if fm.horizontalAdvance(word) > avail + SLACK:
                        problems.append(f"{widget_path(w)}: unbreakable {word[:20]}… wider than "
                                        f"{avail}px")
                continue
            need = _label_text_width(w)
            if need > avail + SLACK:
                problems.append(f"{widget_path(w)}: text {need}px in {avail}px: {w.text()[:60]!r}")
        elif isinstance(w, QAbstractButton) and w.text():
            fm = QFontMetrics(w.font())
            need = max(fm.horizontalAdvance(line) for line in w.text().replace("&&", "&")
                       .replace("&", "").split("\n"))
            if isinstance(w, (QCheckBox, QRadioButton)):
                need += 20  # the indicator and its spacing
            elif isinstance(w, QPushButton):
                need += 8  # the frame's padding
            if not w.icon().isNull():
                need += w.iconSize().width() + 4
            if need > w.width() + SLACK:
                problems.append(f"{widget_path(w)}: text needs {need}px, button is {w.width()}px: "
                                f"{w.text()[:60]!r}")
        elif isinstance(w, (QTableWidget, QTreeWidget)):
            problems += _header_problems(w)
            if isinstance(w, QTreeWidget) and w.wordWrap():
                problems += _wrapped_rows_cut(w)
    return problems


def _wrapped_rows_cut(tree: QTreeWidget) -> list[str]:
    """Rows of a word-wrapping tree shorter than their wrapped text (the end would be cut)."""
    out: list[str] = []
    fm = QFontMetrics(tree.font())
    for i in range(tree.topLevelItemCount()):
        item = tree.topLevelItem(i)
        height = tree.visualItemRect(item).height()
        for c in range(tree.columnCount()):
            width = tree.columnWidth(c) - 8
            text = item.text(c)
            words = re.split(r"\s+", text)
            if not text or width <= 0 or max(fm.horizontalAdvance(x) for x in words) > width:
                continue  # an unbreakable id is elided on purpose (whole in the tooltip)
            need = fm.boundingRect(0, 0, width, 100_000, int(Qt.TextFlag.TextWordWrap),
                                   text).height()
            if need > height + SLACK:
                out.append(f"{widget_path(tree)}: row {i} is {height}px, its text needs {need}px: "
                           f"{text[:50]!r}")
    return out


def _header_problems(view: QTableWidget | QTreeWidget) -> list[str]:
    out: list[str] = []
    if isinstance(view, QTableWidget):
        header = view.horizontalHeader()
        titles = [(c, view.horizontalHeaderItem(c).text() if view.horizontalHeaderItem(c) else "")
                  for c in range(view.columnCount())]
    else:
        header = view.header()
        titles = [(c, view.headerItem().text(c)) for c in range(view.columnCount())]
    if header.isHidden():
        return out
    fm = QFontMetrics(header.font())
    viewport = view.viewport().width()
    for c, title in titles:
        if not title or header.isSectionHidden(c):
            continue
        size = header.sectionSize(c)
        if size < fm.horizontalAdvance(title) + 8:
            out.append(f"{widget_path(view)}: column {title!r} is {size}px, its title needs "
                       f"{fm.horizontalAdvance(title) + 8}px")
        if header.sectionViewportPosition(c) + min(size, 40) > viewport + SLACK and c < 3:
            out.append(f"{widget_path(view)}: column {title!r} starts outside the visible table")
    return out
