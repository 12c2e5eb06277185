"""SVG icons from ``resources/icons``, tinted to the current theme and crisp at any scale.

The line icons use ``currentColor``; Qt's SVG renderer does not resolve it, so the colour is
substituted before rendering. Pixmaps are rendered at several sizes (device pixels included) so Qt
picks a sharp one on high-DPI screens. The app icon is full-colour and goes through Qt's SVG icon
engine directly.
"""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QByteArray
from PySide6.QtGui import QIcon, QImage, QPainter, QPixmap

from app.paths import resources_dir

_SIZES = (16, 20, 24, 32, 40, 48, 64, 96)


def icon_path(name: str) -> str:
    return str(resources_dir() / "icons" / f"{name}.svg")


@lru_cache(maxsize=8)
def app_icon() -> QIcon:
    return QIcon(icon_path("app"))


@lru_cache(maxsize=64)
def themed_icon(name: str, color: str) -> QIcon:
    """The line icon ``name`` drawn in ``color`` (a ``#rrggbb`` string)."""
    from PySide6.QtSvg import QSvgRenderer

    with open(icon_path(name), encoding="utf-8") as f:
        svg = f.read().replace("currentColor", color)
    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    icon = QIcon()
    for size in _SIZES:
        # Zeroed pixels are transparent. (QImage.fill's overload lookup would load every Qt
        # namespace enum, a measurable part of start-up.)
        image = QImage(
            bytes(4 * size * size), size, size, 4 * size, QImage.Format.Format_ARGB32_Premultiplied
        ).copy()
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        icon.addPixmap(QPixmap.fromImage(image))
    return icon
