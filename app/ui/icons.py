"""SVG icons from ``resources/icons``, tinted to the current theme and crisp at any scale.

The line icons use ``currentColor``, which Qt's SVG renderer does not resolve: the colour is
filled in and the result kept as a file under the cache folder, which Qt's SVG icon engine then
draws at whatever size and scale a view asks for (sharp on every screen, nothing rendered up front:
rendering in Python would load QImage's and QPainter's enums, ~5 ms of start-up, plus ~2 ms an
icon). Where that folder cannot be written, the icon is rendered here at the usual sizes instead.
The app icon is full-colour and goes through the SVG icon engine directly.
"""

from __future__ import annotations

import contextlib
import os
from functools import lru_cache
from pathlib import Path

from PySide6.QtGui import QIcon

from app.paths import app_paths, resources_dir

_SIZES = (16, 20, 24, 32, 40, 48, 64, 96)


def icon_path(name: str) -> str:
    return str(resources_dir() / "icons" / f"{name}.svg")


@lru_cache(maxsize=8)
def app_icon() -> QIcon:
    return QIcon(icon_path("app"))


def themed_icon(name: str, color: str) -> QIcon:
    """The line icon ``name`` drawn in ``color`` (a ``#rrggbb`` string)."""
    return _themed_icon(name, color, app_paths().cache / "icons")


@lru_cache(maxsize=64)
def _themed_icon(name: str, color: str, cache: Path) -> QIcon:
    with open(icon_path(name), encoding="utf-8") as f:
        svg = f.read().replace("currentColor", color)
    path = cache / color.lstrip("#") / f"{name}.svg"
    try:
        if not path.is_file() or path.read_text(encoding="utf-8") != svg:
            _write(path, svg)
    except OSError:
        return _rendered_icon(svg)
    return QIcon(str(path))


def _write(path: Path, text: str) -> None:
    """Whole or not at all (a cache: no fsync; a bad file is rewritten at the next start)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _rendered_icon(svg: str) -> QIcon:
    """The icon rendered here at the usual sizes (when the cache folder is not writable)."""
    from PySide6.QtCore import QByteArray
    from PySide6.QtGui import QImage, QPainter, QPixmap
    from PySide6.QtSvg import QSvgRenderer

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
