"""Both themes (the dark one above all): an unchecked check box or radio button is plainly
visible (its indicator's border contrasts with the page at least 3:1, the WCAG minimum for
controls), a checked one looks different from an unchecked one, and keyboard focus visibly
changes the indicator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QCheckBox,
    QComboBox,
    QPushButton,
    QRadioButton,
    QStyle,
    QStyleOptionButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.theme import apply_theme


@pytest.fixture(params=["dark", "light"])
def themed(request: pytest.FixtureRequest, qapp: QApplication) -> Iterator[str]:
    palette, sheet, style = qapp.palette(), qapp.styleSheet(), qapp.style().name()
    apply_theme(qapp, request.param)
    yield request.param
    qapp.setStyleSheet(sheet)
    qapp.setPalette(palette)
    qapp.setStyle(style)


def luminance(c: QColor) -> float:
    def lin(v: float) -> float:
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    return 0.2126 * lin(c.redF()) + 0.7152 * lin(c.greenF()) + 0.0722 * lin(c.blueF())


def contrast(a: QColor, b: QColor) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def indicator(button: QAbstractButton) -> QRect:
    opt = QStyleOptionButton()
    opt.initFrom(button)
    element = (QStyle.SubElement.SE_CheckBoxIndicator if isinstance(button, QCheckBox)
               else QStyle.SubElement.SE_RadioButtonIndicator)
    return button.style().subElementRect(element, opt, button)


def pixels(image: QImage, rect: QRect) -> list[QColor]:
    ratio = image.devicePixelRatio()
    return [image.pixelColor(int(x * ratio), int(y * ratio))
            for x in range(rect.left(), rect.right() + 1)
            for y in range(rect.top(), rect.bottom() + 1)]


def distance(a: QColor, b: QColor) -> float:
    """How far apart two colours are (0..441 in RGB): a change of hue counts, not only light."""
    return float(((a.red() - b.red()) ** 2 + (a.green() - b.green()) ** 2
                  + (a.blue() - b.blue()) ** 2) ** 0.5)


def best_contrast(button: QAbstractButton, background: QColor) -> float:
    image = button.grab().toImage()
    return max(contrast(c, background) for c in pixels(image, indicator(button)))


@pytest.mark.parametrize("kind", [QCheckBox, QRadioButton])
def test_unchecked_controls_are_visible_and_focus_shows(themed, qtbot, kind):
    page = QWidget()
    qtbot.addWidget(page)
    lay = QVBoxLayout(page)
    button = kind("Start Morpheus Desktop when I log in")
    other = kind("Resume sharing my GPU")
    lay.addWidget(button)
    lay.addWidget(other)
    page.show()
    qtbot.waitExposed(page)
    background = page.palette().color(page.backgroundRole())
    assert (luminance(background) < 0.05) == (themed == "dark")  # the theme is on

    unchecked = best_contrast(button, background)
    assert unchecked >= 3.0, f"unchecked indicator contrast {unchecked:.2f}:1"

    before = pixels(button.grab().toImage(), indicator(button))
    button.setFocus()
    qtbot.waitUntil(button.hasFocus)
    after = pixels(button.grab().toImage(), indicator(button))
    changed = sum(1 for a, b in zip(before, after, strict=True) if distance(a, b) > 60)
    assert changed >= len(before) // 10, "keyboard focus does not show on the indicator"

    button.setChecked(True)
    checked = pixels(button.grab().toImage(), indicator(button))
    differs = sum(1 for a, b in zip(after, checked, strict=True) if distance(a, b) > 60)
    assert differs >= len(checked) // 10, "checked looks like unchecked"


@pytest.mark.parametrize("kind", [QPushButton, QComboBox])
def test_keyboard_focus_shows_on_buttons_and_lists(themed, qtbot, kind):
    page = QWidget()
    qtbot.addWidget(page)
    lay = QVBoxLayout(page)
    control = kind()
    if isinstance(control, QPushButton):
        control.setText("Refresh")
    else:
        control.addItems(["BASE", "Practice network (this computer)"])
    lay.addWidget(control)
    lay.addWidget(QPushButton("Other"))
    page.resize(300, 120)
    page.show()
    qtbot.waitExposed(page)
    before = control.grab().toImage()
    control.setFocus()
    qtbot.waitUntil(control.hasFocus)
    after = control.grab().toImage()
    size = min(before.width(), after.width()), min(before.height(), after.height())
    changed = sum(1 for x in range(size[0]) for y in range(size[1])
                  if distance(before.pixelColor(x, y), after.pixelColor(x, y)) > 60)
    assert changed >= 2 * (size[0] + size[1]), "keyboard focus does not show"
