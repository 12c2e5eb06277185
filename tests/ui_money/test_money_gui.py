"""The window and the background payments, with real widgets (offscreen), the program's own
services on the devnet and a real provider serving SmolLM2: the supervisor runs from launch
whatever page is open; a locked wallet makes a close wait and the window says why; quitting with
a session open asks (close now with progress, or keep it open); switching network in Settings
sends the very next chain request to the new network's node."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest
from pytestqt.qtbot import QtBot

from app.chain.devnet import Devnet
from app.services.tasks import LOCKED_REASON
from app.storage.jobs import JobState
from app.storage.settings import SettingsStore
from app.ui.app_state import SETTINGS_STORE
from app.ui.jobs_notice import JobsNotice
from app.ui.main_window import MainWindow
from tests.ui_share.conftest import (
    CONSUMER_INDEX,
    PASSWORD,
    Gui,
    GuiFactory,
    HeadlessProvider,
    wait_until,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


def _window(qtbot: QtBot, gui: Gui) -> tuple[MainWindow, JobsNotice]:
    """The window as the launcher builds it, on a settings store that says "devnet"."""
    store = SettingsStore.open(gui.paths.settings_file)
    store.update(network="devnet")
    gui.ctx.extras[SETTINGS_STORE] = store
    gui.ctx.settings = store.settings
    window = MainWindow(gui.ctx, tray_available=False, open_start_page_on_show=False)
    qtbot.addWidget(window)
    window.show()
    return window, JobsNotice(window, gui.services)


async def test_locked_wallet_makes_the_close_wait_says_why_and_unlock_runs_it(
    qtbot: QtBot, make_gui: GuiFactory, headless_provider: HeadlessProvider,
    chain_snapshot: Devnet,
) -> None:
    gui = await make_gui(CONSUMER_INDEX)
    window, notice = _window(qtbot, gui)
    notified: list[str] = []
    window.tray.notify = lambda title, text: notified.append(text)  # type: ignore[method-assign]
    await gui.services.connect()  # what the status bar's feed does at launch
    sup = gui.services.supervisor
    assert sup is not None and sup.runner is not None  # running, no page visited
    chain = headless_provider.chain
    start = await chain.mor_balance(gui.address)
    consumer = await gui.services.consumer()
    assert consumer is sup.consumer  # one set of services runs the jobs
    opened = await consumer.open_session(headless_provider.bid_id, 600)
    sid = opened.record.session_id

    gui.wallet.lock()
    now = await chain.latest_timestamp()
    chain_snapshot.time_travel(opened.record.ends_at - now + 5)
    sup.runner.poke_all()
    stake = f"{opened.record.stake / 10**18:.4g} MOR"
    await wait_until(lambda: notice.last_text.startswith("1 session needs closing"))
    assert notice.last_text == f"1 session needs closing: unlock to get {stake} back"
    assert window.notice_bar.isVisible() and window.notice_bar.label.text() == notice.last_text
    assert notified == [notice.last_text]  # and once as a tray notification
    job = sup.runner.store.get(f"close:{sid}")
    assert job is not None and job.state is JobState.PENDING and job.last_error == LOCKED_REASON

    gui.wallet.unlock(PASSWORD)

    def closed() -> bool:
        j = sup.runner.store.get(f"close:{sid}") if sup.runner else None
        return j is not None and j.state is JobState.DONE

    await wait_until(closed, 60)
    await wait_until(lambda: notice.last_text == "")
    assert not window.notice_bar.isVisible()
    assert await chain.mor_balance(gui.address) == start  # closed at its end: all back
    done = sup.runner.store.get(f"close:{sid}")
    assert done is not None and done.result.get("disputed") is False


@pytest.mark.parametrize("choice", ["close", "keep"])
async def test_quit_with_a_session_open_asks_and_shows_progress(
    qtbot: QtBot, make_gui: GuiFactory, headless_provider: HeadlessProvider, choice: str,
) -> None:
    gui = await make_gui(CONSUMER_INDEX)
    window, notice = _window(qtbot, gui)
    await gui.services.connect()
    consumer = await gui.services.consumer()
    opened = await consumer.open_session(headless_provider.bid_id, 600)
    sid = opened.record.session_id
    quit_seen: list[bool] = []
    window.quit_requested.connect(lambda: quit_seen.append(True))

    window.request_quit()
    dialog = notice.dialog
    assert dialog is not None and dialog.isVisible() and not quit_seen
    assert "1 session is still open" in dialog.message.text()
    if choice == "keep":
        dialog.keep_button.click()
        await wait_until(lambda: bool(quit_seen))
        rec = consumer.sessions.get(sid, "consumer")
        assert rec is not None and rec.status == "open"  # closed at its end, next time
        job = consumer.runner.store.get(f"close:{sid}")
        assert job is not None and job.state is JobState.PENDING
        return
    dialog.close_button.click()
    assert not dialog.close_button.isEnabled() and dialog.progress.isVisible()
    await wait_until(lambda: bool(quit_seen), 60)
    assert dialog.progress.value() == 1 and dialog.errors == []
    rec = consumer.sessions.get(sid, "consumer")
    assert rec is not None and rec.status == "closed" and rec.refunded > 0
    s = await headless_provider.chain.get_session(sid)
    assert s.closed_at > 0


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        calls = body if isinstance(body, list) else [body]
        self.seen.extend(c["method"] for c in calls)
        out: Any = [{"jsonrpc": "2.0", "id": c["id"], "error": {"code": -32000,
                                                                 "message": "recorder"}}
                    for c in calls]
        data = json.dumps(out if isinstance(body, list) else out[0]).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


async def test_switching_network_sends_the_next_request_to_the_new_node(
    qtbot: QtBot, make_gui: GuiFactory,
) -> None:
    gui = await make_gui(CONSUMER_INDEX)
    window, notice = _window(qtbot, gui)
    assert await gui.services.connect() is not None
    assert gui.services.supervisor is not None
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Recorder.seen = []
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        window.store.update(network="base-sepolia", custom_rpc_urls=[url])
        assert notice.switch_task is not None
        await notice.switch_task
        assert _Recorder.seen, "no request reached the new network's node"
        # The old network's services are gone: nothing keeps running against the devnet.
        assert gui.services.supervisor is None and gui.services.chain is None
        assert gui.services.chain_error
    finally:
        server.shutdown()
        server.server_close()
