"""Render resources/icons/app.svg into the icon files installers need: a Windows .ico and a
macOS .icns (Qt's own image writers, so no extra tool on the build machine).

    python packaging/make_icons.py      (writes installer/windows/morpheus-desktop.ico and
                                          installer/macos/morpheus-desktop.icns)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QImageWriter, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def render(svg: Path, size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    QSvgRenderer(str(svg)).render(painter)
    painter.end()
    return image


def write(image: QImage, path: Path, fmt: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = QImageWriter(str(path), fmt)
    if not writer.write(image):
        raise SystemExit(f"could not write {path}: {writer.errorString()}")
    print(f"icons: {path.relative_to(ROOT)}")


def main() -> int:
    _app = QGuiApplication(sys.argv[:1])
    svg = ROOT / "resources" / "icons" / "app.svg"
    write(render(svg, 256), ROOT / "installer" / "windows" / "morpheus-desktop.ico", b"ico")
    write(render(svg, 1024), ROOT / "installer" / "macos" / "morpheus-desktop.icns", b"icns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
