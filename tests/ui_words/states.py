"""The window in the state a user with a funded wallet reaches: unlocked on the practice network,
a real session opened with a real provider, and background tasks of every kind in Activity
(shared by the words and layout tests)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from pytestqt.qtbot import QtBot

from app.storage.settings import SettingsStore
from app.ui.app_state import SETTINGS_STORE
from app.ui.main_window import MainWindow
from tests.ui_share.conftest import CONSUMER_INDEX, Gui, GuiFactory, HeadlessProvider, wait_until

BOGUS_SESSION = "0x" + "ab" * 32


@dataclass
class BusyWindow:
    window: MainWindow
    gui: Gui
    consumer: Any
    session_id: str


async def window_with_tasks(qtbot: QtBot, make_gui: GuiFactory,
                            headless_provider: HeadlessProvider,
                            size: tuple[int, int] = (1280, 860)) -> BusyWindow:
    gui = await make_gui(CONSUMER_INDEX)
    store = SettingsStore.open(gui.paths.settings_file)
    store.update(network="devnet")
    gui.ctx.extras[SETTINGS_STORE] = store
    gui.ctx.settings = store.settings
    window = MainWindow(gui.ctx, tray_available=False, open_start_page_on_show=False)
    qtbot.addWidget(window)
    window.resize(*size)
    window.show()
    window.status_model.set_network("devnet")
    window.status_model.set_wallet_state("unlocked")
    await gui.services.connect()
    consumer = await gui.services.consumer()
    opened = await consumer.open_session(headless_provider.bid_id, 600)
    sid = opened.record.session_id
    consumer.runner.schedule(f"close:{BOGUS_SESSION}", "consumer.close",
                             {"session_id": BOGUS_SESSION, "provider_key": ""},
                             title="Close session")
    consumer.runner.store.schedule("withdraw:test", "consumer.withdraw", {"release_at": 0},
                                   run_at=10**10, title="Withdraw held stake")
    consumer.runner.store.schedule(f"claim:{sid}", "provider.claim", {"session_id": sid},
                                   run_at=10**10, title="Claim earnings")
    consumer.runner.store.schedule("setup:test", "provider.setup", {}, run_at=10**10,
                                   title="Go online (register, model, bid)")

    activity = window.show_page("activity")
    await wait_until(lambda: activity.job_row(f"close:{sid}") >= 0
                     and activity.job_row("setup:test") >= 0)
    await wait_until(lambda: activity.retry_button(f"close:{BOGUS_SESSION}") is not None)
    await activity.refresh()
    await wait_until(lambda: activity.sessions_table.rowCount() > 0)

    return BusyWindow(window, gui, consumer, sid)


async def settled_page(window: MainWindow, key: str) -> Any:
    """Show a page and wait for the refresh it starts (chain reads) to finish."""
    page = window.show_page(key)
    task = getattr(page, "refresh_task", None)
    if task is not None:
        await task
    return page


async def finish_ui_ops(timeout: float = 15.0) -> None:
    """Let the pages' chain reads end on their own, then cancel what is left: a read cancelled
    in the middle of connecting can leave its connection for the garbage collector."""
    import contextlib

    from app.ui.ops import pending_ops
    from tests.qt_async import cancel_ui_ops

    with contextlib.suppress(AssertionError):
        await wait_until(lambda: not [t for t in pending_ops()
                                      if t is not asyncio.current_task()], timeout)
    await cancel_ui_ops()
