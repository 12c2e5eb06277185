"""A wallet unlocked on the practice network, with background tasks of every kind in Activity
(an open and a close of a real session with a real provider, a failed close, a withdraw, a
provider claim), the Share page checked, and the dialogs a user meets: every string reads in plain
words; technical terms only inside "Details" sections."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from app.ui.words import short_id
from tests.ui_share.conftest import GuiFactory, HeadlessProvider
from tests.ui_words.scan import jargon, texts
from tests.ui_words.states import BusyWindow, finish_ui_ops, settled_page, window_with_tasks
from tests.ui_words.test_plain_words_no_wallet import OWNED_ELSEWHERE

pytestmark = pytest.mark.asyncio(loop_scope="module")

def scan_dialog(dialog: object) -> list[str]:
    from PySide6.QtWidgets import QWidget

    assert isinstance(dialog, QWidget)
    dialog.show()
    try:
        return jargon(dialog)
    finally:
        dialog.close()


async def test_wallet_on_the_practice_network_with_tasks_reads_plainly(
    qtbot: QtBot, make_gui: GuiFactory, headless_provider: HeadlessProvider,
) -> None:
    busy = await window_with_tasks(qtbot, make_gui, headless_provider)
    try:
        await check_words(busy)
    finally:  # a failure must not leave page work running when the loop closes
        await finish_ui_ops()


async def check_words(busy: BusyWindow) -> None:
    window, gui, consumer = busy.window, busy.gui, busy.consumer
    found: dict[str, list[str]] = {}
    for key in window.page_keys():
        await settled_page(window, key)
        found[key] = jargon(window)
        if key == "activity":  # the walk did read the tables
            assert len([s for s in texts(window) if s.text]) > 40
            sessions = window.page("activity").sessions_table
            sessions.setCurrentCell(0, 1)  # a shortened session id: Copy takes the whole one
            sessions.copy_action.trigger()
            from PySide6.QtGui import QGuiApplication

            assert QGuiApplication.clipboard().text() == busy.session_id
            assert sessions.item(0, 1).text() == short_id(busy.session_id)

    wallet = window.page("wallet")
    from app.ui.quit_dialog import QuitDialog

    found["quit dialog"] = scan_dialog(
        QuitDialog(window, gui.services.open_sessions(), consumer.close_session))
    window.show_page("wallet")
    for name in ("open_send", "open_reveal", "open_change_password"):
        dialog = getattr(wallet, name)()
        found[name] = jargon(dialog)
        dialog.close()
    from app.ui.error_dialog import ErrorDialog

    found["error dialog"] = scan_dialog(ErrorDialog("Something went wrong", "report text"))
    # Locked: the pages say so in plain words too.
    gui.wallet.lock()
    for key in ("wallet", "activity", "share"):
        await settled_page(window, key)
        found[f"{key} (locked)"] = jargon(window)
    failing = {k: v for k, v in found.items() if v and k not in OWNED_ELSEWHERE}
    assert not failing, "\n".join(f"{k}: {line}" for k, v in failing.items() for line in v)
