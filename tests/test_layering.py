"""The layering rule: Qt (PySide6, shiboken6, qasync) is imported only under app/ui/.

Everything else must run headless (CLI, servers, plain pytest), so a Qt import anywhere else is a
bug even when it happens to work on a desktop. Checked on the source (AST), which also catches
imports inside functions.
"""

from __future__ import annotations

import ast
import gc
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
QT_MODULES = {"PySide6", "shiboken6", "qasync"}


def parse(source: str, filename: str) -> ast.Module:
    """``ast.parse`` with the cyclic GC held off. In CPython 3.11.7 the AST builder keeps its
    recursion count per interpreter; a finaliser run by the GC in the middle (one that formats a
    traceback parses source itself) breaks it with "AST constructor recursion depth mismatch"
    or worse, as seen after the GUI suites left objects for the GC to collect."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return ast.parse(source, filename)
    finally:
        if enabled:
            gc.enable()


def qt_imports(source: str, filename: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(parse(source, filename)):
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


# -- the layer order -------------------------------------------------------------------------
#
# Read from the code (``app`` packages and top-level modules), higher layers may import lower
# ones, never the other way round:
#
#   entry points   __main__, cli, commands, selftest   (may use everything)
#   ui             Qt widgets
#   api            the local OpenAI-compatible server
#   services       use cases shared by GUI and CLI
#   p2p, storage   the MOR-RPC wire; SQLite/JSON stores
#   inference, wallet
#   chain          JSON-RPC, contracts, transactions
#   market         domain types and formulas
#   base           errors, fileio, jsonsafe, logsetup, paths, autostart (anyone may use them)
#
# Packages on the same rank may import each other (p2p and storage, inference and wallet), but
# never in a cycle: the cycle test below covers every module.

RANK = {
    "__main__": 8, "cli": 8, "commands": 8, "selftest": 8,
    "ui": 7,
    "api": 6,
    "services": 5,
    "p2p": 4, "storage": 4,
    "inference": 3, "wallet": 3,
    "chain": 2,
    "market": 1,
    "errors": 0, "fileio": 0, "jsonsafe": 0, "logsetup": 0, "paths": 0, "autostart": 0,
}

# Known edges against the order, each with what would remove it. New ones fail the test; the
# list is empty now and may stay so.
ALLOWED_FOR_NOW: set[tuple[str, str]] = set()


def _module_of(path: Path) -> str:
    rel = path.relative_to(APP.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def app_imports(path: Path) -> list[tuple[int, str]]:
    """Every ``app.…`` module ``path`` imports (absolute or relative, at any depth)."""
    tree = parse(path.read_text(encoding="utf-8"), str(path))
    mod = _module_of(path)
    pkg = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.startswith("app.")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            if base == "app":  # ``from app import x``: x, when it is a module (not __version__)
                out += [(node.lineno, f"app.{a.name}") for a in node.names
                        if (APP / a.name).is_dir() or (APP / f"{a.name}.py").exists()]
            elif base.startswith("app."):
                out.append((node.lineno, base))
    return out


def _top(module: str) -> str:
    return module.split(".")[1]


def test_every_app_package_has_a_rank():
    tops = {p.relative_to(APP).parts[0].removesuffix(".py") for p in APP.glob("*")
            if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists())}
    assert tops - {"__init__"} <= set(RANK), f"give these a layer: {tops - set(RANK)}"


def test_imports_follow_the_layer_order():
    against: list[str] = []
    for path in sorted(APP.rglob("*.py")):
        rel = path.relative_to(APP.parent).as_posix()
        here = _top(_module_of(path)) if path.parent != APP else path.stem
        if here == "__init__":
            continue
        for line, target in app_imports(path):
            there = _top(target)
            if there == here or (rel, target) in ALLOWED_FOR_NOW:
                continue
            if RANK[there] > RANK[here]:
                against.append(f"{rel}:{line} ({here}) imports {target} ({there})")
    assert against == [], "imports against the layer order:\n" + "\n".join(against)


def test_the_allowed_exceptions_still_exist():
    """An exception that is gone (fixed) must leave the list, so the list only shrinks."""
    seen = {(path.relative_to(APP.parent).as_posix(), target)
            for path in APP.rglob("*.py") for _l, target in app_imports(path)}
    assert not ALLOWED_FOR_NOW - seen, sorted(ALLOWED_FOR_NOW - seen)


def test_no_import_cycles_between_modules():
    mods = {_module_of(p): p for p in APP.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, path in mods.items():
        targets = set()
        for _l, target in app_imports(path):
            while target and target not in mods:  # ``from app.x import name``: the module x
                target = target.rsplit(".", 1)[0] if "." in target else ""
            # a package importing its own submodules (``__init__`` re-exports) is no cycle
            if target and target != mod and not target.startswith(mod + "."):
                targets.add(target)
        graph[mod] = targets
    cycles = _cycles(graph)
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        found.append(sorted(comp))
    return found


def test_the_cycle_finder_sees_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
