"""The layering rule: Qt (PySide6, shiboken6, qasync) is imported only under app/ui/.

Everything else must run headless (CLI, servers, plain pytest), so a Qt import anywhere else is a
bug even when it happens to work on a desktop. Checked on the source (AST), which also catches
imports inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
QT_MODULES = {"PySide6", "shiboken6", "qasync"}


def qt_imports(source: str, filename: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        found += [(node.lineno, n) for n in names if n.split(".")[0] in QT_MODULES]
    return found


def test_qt_is_imported_only_under_app_ui():
    offenders = []
    checked = 0
    for path in sorted(APP.rglob("*.py")):
        rel = path.relative_to(APP)
        if rel.parts[0] == "ui":
            continue
        checked += 1
        for line, name in qt_imports(path.read_text(encoding="utf-8"), str(path)):
            offenders.append(f"app/{rel.as_posix()}:{line} imports {name}")
    assert checked > 5, "the walk found the app package"
    assert offenders == [], "\n".join(offenders)


def test_the_checker_sees_every_import_form():
    src = (
        "import PySide6.QtCore\n"
        "from qasync import QEventLoop\n"
        "def f():\n"
        "    import shiboken6\n"
        "    importlib.import_module('PySide6.QtWidgets')\n"
        "from .PySide6 import x\n"
        "import pyside6_helpers\n"
    )
    assert [n for _l, n in qt_imports(src, "x.py")] == [
        "PySide6.QtCore",
        "qasync",
        "shiboken6",
        "PySide6.QtWidgets",
    ]


def test_ui_does_import_qt():
    """Sanity: the checker would notice the UI package, so an empty result above means something."""
    launch = APP / "ui" / "launch.py"
    assert qt_imports(launch.read_text(encoding="utf-8"), str(launch))
