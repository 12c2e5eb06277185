"""The job store copies itself to ``.bak`` off the thread of a running event loop (the
window's), and the copy is whole and current once the store is closed."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from app.storage.jobs import JobStore


def _keys(path: Path) -> set[str]:
    db = sqlite3.connect(str(path))
    try:
        return {r[0] for r in db.execute("SELECT key FROM jobs")}
    finally:
        db.close()


async def test_backup_is_made_off_the_loop_thread_and_complete_at_close(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    loop_thread = threading.get_ident()
    copiers: list[int] = []
    real = store._backup

    def spy(db: sqlite3.Connection) -> None:
        copiers.append(threading.get_ident())
        real(db)

    store._backup = spy  # type: ignore[method-assign]
    for i in range(20):  # a burst of new jobs, as the runner schedules them
        store.schedule(f"close:{i}", "consumer.close", {"session_id": f"0x{i}"})
    store.close()

    assert copiers and loop_thread not in copiers
    assert len(copiers) <= 20  # a burst becomes fewer copies, never more
    assert _keys(store.backup_path) == {f"close:{i}" for i in range(20)}


def test_without_a_loop_the_backup_is_made_at_once(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    store.schedule("withdraw:1", "consumer.withdraw", {})
    assert _keys(store.backup_path) == {"withdraw:1"}  # before close: made in the call
    store.close()
