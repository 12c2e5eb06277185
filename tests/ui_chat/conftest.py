"""Chat page fixtures: the real devnet with two real providers serving the real SmolLM2 (from
``tests/ui_remote``), one SmolLM2 engine on the qasync loop the program runs on, and helpers to
wait for Qt signals without nested event loops."""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
import time
from typing import Any

from PySide6.QtWidgets import QAbstractButton, QLabel, QLineEdit, QPlainTextEdit, QWidget

from tests.api.local_engine import smol_engine  # noqa: F401  (fixture)
from tests.devnet_fixture import chain_snapshot, devnet  # noqa: F401  (fixtures)
from tests.qt_async import qt_event_loop
from tests.ui_remote.conftest import gui, providers  # noqa: F401  (fixtures)


def pytest_asyncio_loop_factories(config: Any, item: Any) -> dict[str, Any]:
    return {"qasync": qt_event_loop}


def next_emission(signal: Any) -> asyncio.Future[Any]:
    """A future resolved by the next emission of a Qt ``signal`` (await it: no polling)."""
    fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def slot(*args: Any) -> None:
        if not fut.done():
            fut.set_result(args[0] if args else None)
        signal.disconnect(slot)

    signal.connect(slot)
    return fut


async def until(condition: Any, signal: Any, deadline: float) -> None:
    """Wait until ``condition()`` holds, re-checking at each emission of ``signal``, failing at
    ``deadline`` (a ``time.monotonic()`` value)."""
    while not condition():
        left = deadline - time.monotonic()
        assert left > 0, "condition not met before the deadline"
        fut = next_emission(signal)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(fut), min(left, 0.25))


BANNED = re.compile(r"\bwei\b|\bgas\b|\brpc\b|\bnonce\b|\banvil\b|\bbid id\b|"
                    r"\b(?:consumer|provider)\.[a-z]", re.IGNORECASE)


def _plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def visible_texts(root: QWidget) -> list[str]:
    """Every string a user can read on ``root``'s visible widgets: texts, placeholders,
    tooltips and accessible names."""
    out: list[str] = []
    for w in [root, *root.findChildren(QWidget)]:
        if not w.isVisible():
            continue
        if isinstance(w, QLabel | QAbstractButton):
            out.append(_plain(w.text()))
        if isinstance(w, QLineEdit | QPlainTextEdit):
            out.append(w.placeholderText())
        out.extend(t for t in (w.toolTip(), w.accessibleName()) if t)
    return out


def jargon(root: QWidget) -> list[str]:
    return [t for t in visible_texts(root) if BANNED.search(t)]


def clipped(root: QWidget) -> list[str]:
    """Visible labels and buttons whose one-line text is wider than the widget (word-wrapped
    labels and the eliding model picker are fine)."""
    out: list[str] = []
    for w in root.findChildren(QWidget):
        if not w.isVisible():
            continue
        fm = w.fontMetrics()
        if isinstance(w, QLabel) and not w.wordWrap() and w.text():
            lines = _plain(w.text()).splitlines() or [""]
            need = max(fm.horizontalAdvance(line) for line in lines)
            if need > w.contentsRect().width() + 1:
                out.append(f"label {_plain(w.text())!r}: {need} > {w.contentsRect().width()}")
        elif isinstance(w, QAbstractButton) and w.text():
            need = fm.horizontalAdvance(w.text().replace("&", ""))
            if need > w.width() - 4:
                out.append(f"button {w.text()!r}: {need} > {w.width()}")
    return out
