"""The persistent store of every money-moving task.

A job is written *before* its transaction is sent and its tx hash is written the moment the hash is
known, so a crash at any point leaves a row that says what may be in flight. Jobs are keyed by an
idempotency key (for example ``close:<session id>``) so scheduling the same work twice is a no-op.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any


class JobState(StrEnum):
    PENDING = "pending"  # waiting for its time (run_at) to come
    RUNNING = "running"  # a handler is working on it (or was, when the program died)
    DONE = "done"
    FAILED = "failed"  # gave up; the user can retry from the Activity page


@dataclass(frozen=True)
class Job:
    id: int
    key: str
    kind: str
    state: JobState
    payload: dict[str, Any]
    run_at: float
    attempts: int
    tx_hashes: tuple[str, ...]
    last_error: str
    result: dict[str, Any]
    created_at: float
    updated_at: float
    title: str = ""


_SCHEMA = """
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


class JobStore:
    """SQLite-backed; safe to use from several asyncio tasks (calls are short and serialized)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _row(self, r: tuple[Any, ...]) -> Job:
        return Job(
            id=r[0], key=r[1], kind=r[2], title=r[3], state=JobState(r[4]),
            payload=json.loads(r[5]), run_at=r[6], attempts=r[7],
            tx_hashes=tuple(json.loads(r[8])), last_error=r[9], result=json.loads(r[10]),
            created_at=r[11], updated_at=r[12],
        )

    _COLS = (
        "id,key,kind,title,state,payload,run_at,attempts,tx_hashes,last_error,result,"
        "created_at,updated_at"
    )

    def schedule(
        self, key: str, kind: str, payload: dict[str, Any], *, run_at: float | None = None,
        title: str = "",
    ) -> Job:
        """Add a job unless one with this key exists; returns the stored job either way."""
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO jobs"
                "(key,kind,title,state,payload,run_at,created_at,updated_at)"
                " VALUES(?,?,?,?,?,?,?,?)",
                (key, kind, title, JobState.PENDING.value, json.dumps(payload),
                 run_at if run_at is not None else now, now, now),
            )
            row = self._db.execute(f"SELECT {self._COLS} FROM jobs WHERE key=?", (key,)).fetchone()
        return self._row(row)

    def get(self, key: str) -> Job | None:
        with self._lock:
            row = self._db.execute(f"SELECT {self._COLS} FROM jobs WHERE key=?", (key,)).fetchone()
        return self._row(row) if row else None

    def all(self, limit: int = 500) -> list[Job]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._COLS} FROM jobs ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [self._row(r) for r in rows]

    def open_jobs(self) -> list[Job]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._COLS} FROM jobs WHERE state IN (?,?) ORDER BY run_at",
                (JobState.PENDING.value, JobState.RUNNING.value),
            ).fetchall()
        return [self._row(r) for r in rows]

    def due(self, now: float | None = None) -> list[Job]:
        now = time.time() if now is None else now
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._COLS} FROM jobs WHERE state=? AND run_at<=? ORDER BY run_at",
                (JobState.PENDING.value, now),
            ).fetchall()
        return [self._row(r) for r in rows]

    def next_run_at(self) -> float | None:
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(run_at) FROM jobs WHERE state=?", (JobState.PENDING.value,)
            ).fetchone()
        return row[0] if row and row[0] is not None else None

    def _update(self, key: str, **cols: Any) -> None:
        cols["updated_at"] = time.time()
        sets = ",".join(f"{k}=?" for k in cols)
        with self._lock:
            self._db.execute(f"UPDATE jobs SET {sets} WHERE key=?", (*cols.values(), key))

    def mark_running(self, key: str) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE jobs SET state=?, attempts=attempts+1, updated_at=? WHERE key=?",
                (JobState.RUNNING.value, time.time(), key),
            )

    def add_tx(self, key: str, tx_hash: str) -> None:
        """Record a sent transaction at once, before waiting for it to be mined."""
        job = self.get(key)
        if job is None or tx_hash in job.tx_hashes:
            return
        self._update(key, tx_hashes=json.dumps([*job.tx_hashes, tx_hash]))

    def update_payload(self, key: str, **changes: Any) -> None:
        job = self.get(key)
        if job is None:
            return
        self._update(key, payload=json.dumps({**job.payload, **changes}))

    def done(self, key: str, result: dict[str, Any] | None = None) -> None:
        self._update(key, state=JobState.DONE.value, result=json.dumps(result or {}), last_error="")

    def retry_later(self, key: str, run_at: float, error: str = "") -> None:
        self._update(key, state=JobState.PENDING.value, run_at=run_at, last_error=error)

    def fail(self, key: str, error: str) -> None:
        self._update(key, state=JobState.FAILED.value, last_error=error)

    def recover_after_crash(self) -> int:
        """Jobs left RUNNING by a dead process are re-queued; their handlers are idempotent."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE jobs SET state=?, run_at=?, updated_at=? WHERE state=?",
                (JobState.PENDING.value, time.time(), time.time(), JobState.RUNNING.value),
            )
        return cur.rowcount
