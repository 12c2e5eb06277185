"""The Activity page's job table while jobs keep changing (as when answers stream with background
jobs): a change touches only its own row, and a hidden page does no table work until shown.

Real widgets offscreen and a real SQLite job store; no chain is needed for the table itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.paths import app_paths
from app.services.app_services import services_of
from app.services.context import AppContext
from app.services.tasks import TaskRunner
from app.storage.jobs import JobStore
from app.storage.settings import Settings
from app.ui.activity_page import ActivityPage
from app.ui.job_words import job_text


@pytest.fixture()
def page_and_runner(qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                    ) -> tuple[ActivityPage, TaskRunner]:
    monkeypatch.setenv("MORPHEUS_HOME", str(tmp_path / "home"))
    ctx = AppContext(paths=app_paths().ensure(), settings=Settings(network="devnet"), wallet=None)
    runner = TaskRunner(JobStore(tmp_path / "jobs.sqlite3"))
    services = services_of(ctx)
    monkeypatch.setattr(services, "runners", lambda: [runner])
    for i in range(60):
        runner.schedule(f"close:0x{i:02x}", "consumer.close", {"session_id": f"0x{i:02x}"},
                        title="Close session")
    page = ActivityPage(ctx)  # built outside the event loop: the stored jobs, no chain
    qtbot.addWidget(page)
    page.resize(1200, 800)
    return page, runner


def _state(page: ActivityPage, key: str) -> str:
    item = page.jobs_table.item(page.job_row(key), 1)
    return item.text() if item is not None else ""


def test_a_hidden_page_waits_and_catches_up_once_shown(
    page_and_runner: tuple[ActivityPage, TaskRunner],
) -> None:
    page, runner = page_and_runner
    assert page.jobs_table.rowCount() == 0  # never shown: no rows built
    runner.store.mark_running("close:0x05")
    page._on_jobs_changed()  # a "jobs" event while hidden
    assert page.jobs_table.rowCount() == 0
    page.show()
    assert page.jobs_table.rowCount() == 60
    assert _state(page, "close:0x05") == "Running"
    assert _state(page, "close:0x06") == "Waiting"


def test_a_change_rebuilds_only_its_own_row(
    page_and_runner: tuple[ActivityPage, TaskRunner],
) -> None:
    page, runner = page_and_runner
    page.show()
    table = page.jobs_table
    before = {row: (table.item(row, 1), table.cellWidget(row, 5)) for row in range(60)}
    changed = page.job_row("close:0x10")

    runner.store.mark_running("close:0x10")
    page.rebuild_jobs()
    assert _state(page, "close:0x10") == "Running"
    for row, (item, widget) in before.items():  # the same cells, not a rebuilt table
        assert table.item(row, 1) is item and table.cellWidget(row, 5) is widget
    assert table.item(changed, 1).text() == "Running"

    runner.schedule("withdraw:new", "consumer.withdraw", {}, title="Withdraw held stake")
    page.rebuild_jobs()  # a new job goes on top; the others keep their cells
    assert table.rowCount() == 61 and page.job_row("withdraw:new") == 0
    assert table.item(changed + 1, 1) is before[changed][0]
    assert table.item(0, 0).text() == job_text("consumer.withdraw", {}, "Withdraw held stake")


def test_a_job_of_another_store_sorting_between_rows_keeps_the_others(
    page_and_runner: tuple[ActivityPage, TaskRunner], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page, runner = page_and_runner
    other = TaskRunner(JobStore(tmp_path / "other.sqlite3"))  # the provider's, say
    monkeypatch.setattr(page.services, "runners", lambda: [runner, other])
    page.show()
    table = page.jobs_table
    before = {k: table.item(page.job_row(k), 1) for k in page._row_keys}

    other.schedule("claim:0x1", "provider.claim", {"session_id": "0x1"}, title="Claim earnings")
    page.rebuild_jobs()  # a second store, with ids of its own
    assert table.rowCount() == 61 and page.job_row("claim:0x1") >= 0
    for key, item in before.items():
        assert table.item(page.job_row(key), 1) is item, key
    assert [table.item(r, 1) is not None for r in range(61)] == [True] * 61
