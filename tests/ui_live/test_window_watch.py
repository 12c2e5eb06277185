"""Nobody looks at a hidden window: the chain watcher slows down and the status bar's wallet poll
pauses; showing the window brings both back at once. Closing to the tray says what is true.
(The window as the launcher builds it, with the program's own services on the devnet.)"""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from app.ui.status_feed import StatusFeed
from app.ui.tray import TrayController
from tests.ui_live.conftest import devnet_window
from tests.ui_share.conftest import CONSUMER_INDEX, GuiFactory, wait_until

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_hidden_window_slows_the_watch_and_showing_it_wakes_it(
    qtbot: QtBot, make_gui: GuiFactory,
) -> None:
    gui = await make_gui(CONSUMER_INDEX)
    window = devnet_window(qtbot, gui)
    window.show()
    feed = StatusFeed(window)
    pace = gui.services.watch_pace
    assert feed.connect_task is not None
    await feed.connect_task
    await wait_until(lambda: window.status_model.block is not None, 15)
    assert pace.watched and pace.interval == pace.watched_s

    window.hide()
    assert not pace.watched and pace.interval == pace.hidden_s
    assert not feed._timer.isActive()
    window.show()
    assert pace.watched and feed._timer.isActive()
    window.showMinimized()
    await wait_until(lambda: not pace.watched, 5)
    window.showNormal()
    await wait_until(lambda: pace.watched, 5)
    await gui.services.stop()
    assert gui.services._watch is None  # the watch ends with the services, hidden or not


async def test_closing_to_the_tray_says_what_really_goes_on(
    qtbot: QtBot, make_gui: GuiFactory, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nothing shared, no session open: the balloon does not claim the program keeps serving."""
    monkeypatch.setattr(TrayController, "available", property(lambda self: True))
    gui = await make_gui(CONSUMER_INDEX)
    window = devnet_window(qtbot, gui, keep_serving_in_background=True)
    said: list[str] = []
    window.tray.notify = lambda _title, text: said.append(text)  # type: ignore[method-assign]
    window.show()
    await gui.services.connect()
    window.close()
    assert not window.isVisible()
    assert len(said) == 1 and "serving" not in said[0]
    assert said[0].startswith("Nothing is shared or served right now.")
    await gui.services.stop()
