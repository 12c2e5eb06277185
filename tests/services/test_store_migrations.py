"""Stores written by earlier versions of the program (no schema version, default file permissions)
open in this one with every row kept, a schema version recorded, and owner-only files.

The "old" files are made here with the exact SQL the earlier code ran, through plain ``sqlite3``
with the process's ordinary umask, as that code did.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.storage.chats import ChatStore
from app.storage.db import DatabaseError
from app.storage.jobs import JobState, JobStore
from app.storage.sessions import SessionRecord, SessionStore

# The job table as the first releases wrote it (before ``failures`` was kept apart).
OLD_JOBS_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    payload TEXT NOT NULL,
    run_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    tx_hashes TEXT NOT NULL DEFAULT '[]',
    last_error TEXT NOT NULL DEFAULT '',
    result TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_due ON jobs(state, run_at);
"""

# The sessions table as the earlier code built it from SessionRecord's fields.
OLD_SESSIONS_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS sessions (session_id TEXT,role TEXT,user TEXT,provider TEXT,"
    "bid_id TEXT,model_id TEXT,endpoint TEXT,price_per_second TEXT,stake TEXT,opened_at TEXT,"
    "ends_at TEXT,closed_at TEXT,refunded TEXT,on_hold TEXT,on_hold_until TEXT,spent TEXT,"
    "prompts TEXT,tokens TEXT,status TEXT,open_tx TEXT,close_tx TEXT,updated_at REAL, "
    "PRIMARY KEY(session_id, role))"
)

BIG = 633 * 10**18 + 1  # more than SQLite's int64: stored as text


@pytest.fixture(autouse=True)
def _readable_umask() -> Iterator[None]:
    """The common desktop umask: files the old code created were readable by others."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _user_version(path: Path) -> int:
    raw = sqlite3.connect(str(path))
    try:
        return int(raw.execute("PRAGMA user_version").fetchone()[0])
    finally:
        raw.close()


def _old_job_store(path: Path, *, with_failures: bool) -> None:
    raw = sqlite3.connect(str(path))
    raw.execute("PRAGMA journal_mode=WAL")
    raw.executescript(OLD_JOBS_SCHEMA)
    if with_failures:  # what the unversioned code added at open, later on
        raw.execute("ALTER TABLE jobs ADD COLUMN failures INTEGER NOT NULL DEFAULT 0")
    for i, state in enumerate(("pending", "running", "failed", "done")):
        raw.execute(
            "INSERT INTO jobs(key,kind,title,state,payload,run_at,attempts,tx_hashes,"
            "created_at,updated_at) VALUES(?,?,?,?,?,?,?,?,?,?)",
            (f"close:{i}", "consumer.close", f"Close session {i}", state,
             f'{{"session_id": "0x{i}"}}', 100.0 + i, i, f'["0x{i:064x}"]', 1.0, 2.0),
        )
    raw.commit()
    raw.close()


@pytest.mark.parametrize("with_failures", [False, True])
def test_an_unversioned_job_store_is_migrated_with_every_job(
    tmp_path: Path, with_failures: bool
) -> None:
    path = tmp_path / "jobs.sqlite3"
    _old_job_store(path, with_failures=with_failures)
    assert _mode(path) == 0o644 and _user_version(path) == 0

    store = JobStore(path)
    try:
        jobs = {j.key: j for j in store.all()}
        assert set(jobs) == {"close:0", "close:1", "close:2", "close:3"}
        assert [jobs[f"close:{i}"].state for i in range(4)] == [
            JobState.PENDING, JobState.RUNNING, JobState.FAILED, JobState.DONE]
        one = jobs["close:1"]
        assert one.payload == {"session_id": "0x1"} and one.tx_hashes == (f"0x{1:064x}",)
        assert one.title == "Close session 1" and one.attempts == 1 and one.failures == 0
        assert store.notice == ""  # an upgrade, not a repair
        store.failed_attempt("close:0", 500.0, "node down")  # the new column works
        assert store.get("close:0").failures == 1  # type: ignore[union-attr]
    finally:
        store.close()
    assert _user_version(path) == 2
    for p in tmp_path.iterdir():  # the store, its -wal/-shm and its .bak
        assert _mode(p) == 0o600, p.name
    again = JobStore(path)  # opening a migrated store again changes nothing
    try:
        assert len(again.all()) == 4 and again.notice == ""
    finally:
        again.close()
    assert _user_version(path) == 2


def test_a_job_store_from_a_newer_program_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    JobStore(path).close()
    raw = sqlite3.connect(str(path))
    raw.execute("PRAGMA user_version = 99")
    raw.close()
    before = sorted(p.name for p in tmp_path.iterdir())

    with pytest.raises(DatabaseError) as err:
        JobStore(path)
    assert "newer version" in err.value.message
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing set aside or restored
    assert _user_version(path) == 99


def test_an_unversioned_session_store_is_migrated_with_every_session(tmp_path: Path) -> None:
    path = tmp_path / "sessions.sqlite3"
    raw = sqlite3.connect(str(path))
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute(OLD_SESSIONS_SCHEMA)
    raw.execute(
        "INSERT INTO sessions VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        ("0x" + "ab" * 32, "consumer", "0xu", "0xp", "0xb", "0xm", "host:1", "7", str(BIG),
         "10", "20", "0", "0", "0", "0", "0", "3", "42", "open", "0xo", "", 5.0),
    )
    raw.commit()
    raw.close()
    assert _mode(path) == 0o644 and _user_version(path) == 0

    store = SessionStore(path)
    try:
        rec = store.get("0x" + "ab" * 32, "consumer")
        assert rec is not None and rec.stake == BIG and rec.tokens == 42
        assert (rec.endpoint, rec.status, rec.open_tx) == ("host:1", "open", "0xo")
        store.upsert(SessionRecord("0x" + "cd" * 32, "provider", "0xu", "0xp", "0xb"))
        assert len(store.list()) == 2
    finally:
        store.close()
    assert _user_version(path) == 1
    for p in tmp_path.iterdir():
        assert _mode(p) == 0o600, p.name


def test_the_session_table_has_a_column_for_every_record_field(tmp_path: Path) -> None:
    """A new SessionRecord field needs its own migration step; this notices a forgotten one."""
    path = tmp_path / "s.sqlite3"
    SessionStore(path).close()
    raw = sqlite3.connect(str(path))
    cols = [r[1] for r in raw.execute("PRAGMA table_info(sessions)").fetchall()]
    raw.close()
    assert cols == list(SessionRecord.__dataclass_fields__)


def test_every_store_and_its_side_files_are_owner_only(tmp_path: Path) -> None:
    jobs = JobStore(tmp_path / "jobs.sqlite3")
    sessions = SessionStore(tmp_path / "sessions.sqlite3")
    chats = ChatStore(tmp_path / "chats.sqlite3")
    try:
        jobs.schedule("open:1", "consumer.open", {})
        sessions.upsert(SessionRecord("0x" + "ab" * 32, "consumer", "0xu", "0xp", "0xb"))
        chats.create_conversation("hello")
        names = {p.name for p in tmp_path.iterdir()}
        assert {"jobs.sqlite3-wal", "sessions.sqlite3-wal", "chats.sqlite3-wal"} <= names
        for p in tmp_path.iterdir():
            assert _mode(p) == 0o600, p.name
    finally:
        jobs.close()
        sessions.close()
        chats.close()


def test_side_files_left_readable_by_an_older_program_are_made_owner_only(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sessions.sqlite3"
    raw = sqlite3.connect(str(path))
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute(OLD_SESSIONS_SCHEMA)
    raw.commit()
    # the old program died with its WAL still there (still open here: not checkpointed away)
    wal = Path(f"{path}-wal")
    assert wal.exists() and _mode(wal) == 0o644
    store = SessionStore(path)
    try:
        assert _mode(wal) == 0o600 and _mode(path) == 0o600
    finally:
        store.close()
        raw.close()
