"""A wallet unlocked on the practice network, with background tasks of every kind in Activity
(an open and a close of a real session with a real provider, a failed close, a withdraw, a
provider claim), the Share page checked, and the dialogs a user meets: every string reads in plain
words; technical terms only inside "Details" sections."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from app.storage.settings import SettingsStore
from app.ui.app_state import SETTINGS_STORE
from app.ui.main_window import MainWindow
from tests.ui_share.conftest import CONSUMER_INDEX, GuiFactory, HeadlessProvider, wait_until
from tests.ui_words.scan import jargon, texts
from tests.ui_words.test_plain_words_no_wallet import OWNED_ELSEWHERE

pytestmark = pytest.mark.asyncio(loop_scope="module")

BOGUS_SESSION = "0x" + "ab" * 32


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
    gui = await make_gui(CONSUMER_INDEX)
    store = SettingsStore.open(gui.paths.settings_file)
    store.update(network="devnet")
    gui.ctx.extras[SETTINGS_STORE] = store
    gui.ctx.settings = store.settings
    window = MainWindow(gui.ctx, tray_available=False, open_start_page_on_show=False)
    qtbot.addWidget(window)
    window.resize(1280, 860)
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

    found: dict[str, list[str]] = {}
    for key in window.page_keys():
        page = window.show_page(key)
        task = getattr(page, "refresh_task", None)
        if task is not None:
            await task
        found[key] = jargon(window)
        if key == "activity":  # the walk did read the tables
            assert len([s for s in texts(window) if s.text]) > 40

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
    failing = {k: v for k, v in found.items() if v and k not in OWNED_ELSEWHERE}
    assert not failing, "\n".join(f"{k}: {line}" for k, v in failing.items() for line in v)
