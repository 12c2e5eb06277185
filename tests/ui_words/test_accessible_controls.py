"""Every control a user can operate on the pages this work owns (Share, Models, Wallet, Activity,
Settings) and their dialogs has a name a screen reader can say (an accessible name, its visible
text or its form label) and is reached with the Tab key."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from tests.ui_share.conftest import GuiFactory, HeadlessProvider
from tests.ui_words.controls import controls, tab_reachable, unnamed
from tests.ui_words.states import BusyWindow, finish_ui_ops, settled_page, window_with_tasks

pytestmark = pytest.mark.asyncio(loop_scope="module")

OWN_PAGES = ("share", "models", "wallet", "activity", "settings")


async def test_every_control_has_a_name_and_tab_reaches_it(
    qtbot: QtBot, make_gui: GuiFactory, headless_provider: HeadlessProvider,
) -> None:
    busy = await window_with_tasks(qtbot, make_gui, headless_provider)
    try:
        await check(busy)
    finally:  # a failure must not leave page work running when the loop closes
        await finish_ui_ops()


async def check(busy: BusyWindow) -> None:
    window = busy.window
    problems: dict[str, list[str]] = {}
    counted = 0
    for key in OWN_PAGES:
        page = await settled_page(window, key)
        counted += len(controls(page))
        problems[key] = unnamed(page) + [f"not reached by Tab: {x}" for x in tab_reachable(page)]
    assert counted > 40  # the walk did find the pages' controls
    wallet = window.show_page("wallet")
    for name in ("open_send", "open_reveal", "open_change_password"):
        dialog = getattr(wallet, name)()
        problems[name] = unnamed(dialog)
        dialog.close()
    from app.ui.quit_dialog import QuitDialog

    quit_dialog = QuitDialog(window, busy.gui.services.open_sessions(),
                             busy.consumer.close_session)
    quit_dialog.show()
    problems["quit dialog"] = unnamed(quit_dialog)
    quit_dialog.close()
    failing = {k: v for k, v in problems.items() if v}
    assert not failing, "\n".join(f"{k}: {line}" for k, v in failing.items() for line in v)
