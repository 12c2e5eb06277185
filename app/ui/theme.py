"""Light and dark themes, switchable while the program runs.

Fusion plus an explicit palette looks the same on every platform and makes dark mode complete
(native styles ignore parts of a dark palette); the QSS files in ``resources/styles`` add the few
touches a palette cannot express. ``system`` follows the desktop: at start-up from the platform's
own palette (asking Qt for the colour scheme loads every ``Qt`` namespace enum, tens of
milliseconds of start-up), and once the window is up from ``QStyleHints.colorScheme``.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from app.paths import resources_dir

ICON_COLORS = {"light": "#27313b", "dark": "#d5dbe1"}

_PALETTES: dict[str, dict[QPalette.ColorRole, str]] = {
    "light": {
        QPalette.ColorRole.Window: "#f7f8fa",
        QPalette.ColorRole.WindowText: "#1d252d",
        QPalette.ColorRole.Base: "#ffffff",
        QPalette.ColorRole.AlternateBase: "#f0f3f6",
        QPalette.ColorRole.ToolTipBase: "#ffffff",
        QPalette.ColorRole.ToolTipText: "#1d252d",
        QPalette.ColorRole.PlaceholderText: "#8a96a2",
        QPalette.ColorRole.Text: "#1d252d",
        QPalette.ColorRole.Button: "#eef1f4",
        QPalette.ColorRole.ButtonText: "#1d252d",
        QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Highlight: "#13a873",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#0b7a55",
        QPalette.ColorRole.Mid: "#c9d1d9",
    },
    "dark": {
        QPalette.ColorRole.Window: "#14181d",
        QPalette.ColorRole.WindowText: "#e3e8ed",
        QPalette.ColorRole.Base: "#1d2329",
        QPalette.ColorRole.AlternateBase: "#232a31",
        QPalette.ColorRole.ToolTipBase: "#232a31",
        QPalette.ColorRole.ToolTipText: "#e3e8ed",
        QPalette.ColorRole.PlaceholderText: "#7d8893",
        QPalette.ColorRole.Text: "#e3e8ed",
        QPalette.ColorRole.Button: "#242b33",
        QPalette.ColorRole.ButtonText: "#e3e8ed",
        QPalette.ColorRole.BrightText: "#ffffff",
        QPalette.ColorRole.Highlight: "#1f9e6e",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#5fd3a5",
        QPalette.ColorRole.Mid: "#3a434c",
    },
}


_platform_dark: bool | None = None


def platform_prefers_dark(app: QApplication) -> bool:
    """Whether the desktop is dark, judged from its palette the first time (before ours is set)."""
    global _platform_dark
    if _platform_dark is None:
        _platform_dark = app.palette().color(QPalette.ColorRole.Window).lightness() < 128
    return _platform_dark


def note_system_dark(dark: bool) -> None:
    """Record what the platform reported as its colour scheme (light or dark)."""
    global _platform_dark
    _platform_dark = dark


def effective_theme(name: str, app: QApplication | None = None) -> str:
    """Map ``light``/``dark``/``system`` to the theme actually drawn."""
    if name in ("light", "dark"):
        return name
    app = app or QApplication.instance()  # type: ignore[assignment]
    if app is not None and platform_prefers_dark(app):
        return "dark"
    return "light"


def build_palette(theme: str) -> QPalette:
    palette = QPalette()
    for role, color in _PALETTES[theme].items():
        palette.setColor(role, QColor(color))
    disabled = QColor(_PALETTES[theme][QPalette.ColorRole.PlaceholderText])
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return palette


def stylesheet(theme: str) -> str:
    """The theme's QSS; ``@STYLES@`` stands for its folder (images such as the check mark)."""
    styles = resources_dir() / "styles"
    text = (styles / f"{theme}.qss").read_text(encoding="utf-8")
    return text.replace("@STYLES@", styles.as_posix())


def apply_theme(app: QApplication, name: str) -> str:
    """Apply ``name`` to the whole application; returns the effective theme (light or dark)."""
    platform_prefers_dark(app)  # read the desktop's palette before replacing it
    theme = effective_theme(name, app)
    # The launcher starts Qt with "-style fusion" and says so in this property: asking for
    # app.style() makes PySide6 set up QStyle's enums, ~10 ms of start-up.
    if app.property("morpheusStyle") != "fusion" and app.style().name().lower() != "fusion":
        app.setStyle("Fusion")
    app.setPalette(build_palette(theme))
    app.setStyleSheet(stylesheet(theme))
    app.setProperty("morpheusTheme", theme)
    return theme


def current_theme(app: QApplication | None = None) -> str:
    app = app or QApplication.instance()  # type: ignore[assignment]
    value = app.property("morpheusTheme") if app is not None else None
    return value if value in ("light", "dark") else "light"


def icon_color(app: QApplication | None = None) -> str:
    return ICON_COLORS[current_theme(app)]
