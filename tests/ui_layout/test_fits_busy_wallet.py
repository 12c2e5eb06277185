"""With a wallet unlocked on the practice network and tasks of every kind in Activity, at 800x600
and 1440x900: Wallet's labels and every page's text fit, and the Activity table stays readable
(every column title visible, the task in words wrapped into its cell, the first columns in view)."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QFontMetrics
from pytestqt.qtbot import QtBot

from tests.ui_layout.clipping import clipped
from tests.ui_layout.test_fits_first_launch import OWNED_ELSEWHERE, SIZES, settle
from tests.ui_share.conftest import GuiFactory, HeadlessProvider
from tests.ui_words.states import BusyWindow, finish_ui_ops, settled_page, window_with_tasks

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.mark.parametrize("size", SIZES)
async def test_pages_with_a_busy_wallet_fit(
    qtbot: QtBot, make_gui: GuiFactory, headless_provider: HeadlessProvider,
    size: tuple[int, int],
) -> None:
    busy = await window_with_tasks(qtbot, make_gui, headless_provider, size)
    try:
        await check_fits(busy, size)
    finally:  # a failure must not leave page work running when the loop closes
        await finish_ui_ops()


async def check_fits(busy: BusyWindow, size: tuple[int, int]) -> None:
    window = busy.window
    assert (window.width(), window.height()) == size
    found: dict[str, list[str]] = {}
    for key in window.page_keys():
        await settled_page(window, key)
        settle()
        found[key] = clipped(window)
    from app.ui.quit_dialog import QuitDialog

    dialog = QuitDialog(window, busy.gui.services.open_sessions(), busy.consumer.close_session)
    dialog.show()  # at its own default size
    settle()
    found["quit dialog"] = clipped(dialog)
    dialog.close()
    failing = {k: v for k, v in found.items() if v and k not in OWNED_ELSEWHERE}
    assert not failing, "\n".join(f"{k}: {line}" for k, v in failing.items() for line in v)

    # Activity: each task's words can be read whole (wrapped in its cell, not cut).
    activity = await settled_page(window, "activity")
    settle()
    table = activity.jobs_table
    assert table.rowCount() >= 5
    first = table.columnWidth(0)
    assert first >= 160, f"the task column is only {first}px wide"
    for row in range(table.rowCount()):
        item = table.item(row, 0)
        fm = QFontMetrics(item.font() if item.font() else table.font())
        lines = max(1, -(-fm.horizontalAdvance(item.text()) // max(1, first - 12)))
        assert table.rowHeight(row) >= min(lines, 3) * fm.lineSpacing(), (
            f"row {row} is {table.rowHeight(row)}px for {lines} line(s): {item.text()!r}")
    assert table.viewport().height() >= 2 * table.rowHeight(0), "fewer than two tasks in view"
    if size[0] >= 1440:  # on a wide window the columns use the width: no blank strip, no scroll
        header = table.horizontalHeader()
        used = sum(header.sectionSize(c) for c in range(table.columnCount()))
        assert table.viewport().width() - 4 <= used <= table.viewport().width() + 4, (
            f"columns use {used}px of {table.viewport().width()}px")
