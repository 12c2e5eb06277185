"""The persistent store of every money-moving task.

A job is written *before* its transaction is sent and its tx hash is written the moment the hash is
known (before the broadcast), so a crash at any point leaves a row that says what may be in flight.
Jobs are keyed by an idempotency key (for example ``close:<session id>``) so scheduling the same
work twice is a no-op.

The file is checked at open: a damaged or emptied store is set aside (never silently recreated
over pending money jobs), the last good copy is restored from ``<file>.bak`` and ``notice`` says
so in plain words. A write that fails (disk full) raises ``StorageError``, so nothing is sent
after it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from app.errors import UserFacingError
from app.storage.db import DatabaseError, Migration, columns, connect, create_private, migrate

log = logging.getLogger(__name__)


class JobState(StrEnum):
    PENDING = "pending"  # waiting for its time (run_at) to come
    RUNNING = "running"  # a handler is working on it (or was, when the program died)
    DONE = "done"
    FAILED = "failed"  # gave up for now; retried at the next launch or from the Activity page


DAMAGED = "_damaged"  # payload key of a job whose stored details could not be read


class StorageError(UserFacingError):
    """The job store could not be read or written (disk full, damaged file)."""


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
    failures: int = 0  # transient errors in a row (``attempts`` counts every run)


def _add_failures(db: sqlite3.Connection) -> None:
    """Failures (transient errors in a row) kept apart from attempts; stores from before schema
    versions may have the column already."""
    if "failures" not in columns(db, "jobs"):
        db.execute("ALTER TABLE jobs ADD COLUMN failures INTEGER NOT NULL DEFAULT 0")


# ``PRAGMA user_version`` steps. Never edit a released step: append one. ``IF NOT EXISTS``: a store
# written before versions (user_version 0) has the table of step 1 already.
_MIGRATIONS: tuple[Migration, ...] = ("""
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
""", _add_failures)


def _disk_message(exc: sqlite3.Error) -> str:
    text = str(exc).lower()
    if "full" in text:
        return ("Your disk is full, so Morpheus could not save what it is about to do. "
                "Nothing was sent. Free some space and try again.")
    return ("Morpheus could not save its list of pending payments. Nothing was sent. "
            "Check that the disk is writable and try again.")


class JobStore:
    """SQLite-backed; safe to use from several asyncio tasks (calls are short and serialized)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.backup_path = path.with_name(path.name + ".bak")
        self.notice = ""  # set when the file had to be repaired; show it to the user
        self._lock = threading.Lock()
        self._db = self._open_checked()

    # -- opening, integrity, backup -------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        return connect(self.path, check_same_thread=False, synchronous="FULL")

    def _healthy(self, db: sqlite3.Connection) -> bool:
        """Intact and at this program's schema. A store written by a newer program raises
        ``DatabaseError`` (it is not damaged: restoring an older copy would lose its jobs)."""
        try:
            ok = db.execute("PRAGMA quick_check").fetchone()
            if not ok or ok[0] != "ok":
                return False
            migrate(db, _MIGRATIONS)
            db.execute("SELECT COUNT(*) FROM jobs").fetchone()
        except sqlite3.DatabaseError:
            return False
        return True

    def _open_checked(self) -> sqlite3.Connection:
        emptied = self.path.exists() and self.path.stat().st_size == 0 and self.backup_path.exists()
        damaged = False
        db: sqlite3.Connection | None = None
        if not emptied:
            try:
                db = self._connect()
                damaged = not self._healthy(db)
            except sqlite3.DatabaseError:
                damaged = True
            except DatabaseError:
                if db is not None:  # newer than this program: refused, left as it is
                    db.close()
                    raise
                damaged = True  # could not be opened at all
            if not damaged and db is not None:
                self._backup(db)
                return db
            if db is not None:
                db.close()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(self.path) + suffix)
            if src.exists():
                os.replace(src, Path(str(aside) + suffix))
        restored = False
        if self.backup_path.exists():
            shutil.copyfile(self.backup_path, self.path)
            self.path.chmod(0o600)
            restored = True
        what = "was emptied" if emptied else "is damaged"
        self.notice = (
            f"The list of pending payments {what}. "
            + ("The last good copy was restored; " if restored else "No good copy was found; ")
            + f"the damaged file was kept as {aside.name}. Morpheus will also look on the "
            "network for open sessions and held stake, so nothing is lost."
        )
        log.warning("job store %s %s; restored=%s", self.path, what, restored)
        db = self._connect()
        if not self._healthy(db):
            raise StorageError(self.notice, detail=str(self.path))
        return db

    def _backup(self, db: sqlite3.Connection) -> None:
        """Copy the (just checked) store to ``.bak``: the last good state. It runs on the event
        loop at every new job, so the copy is synced once, as a whole file, before it replaces the
        old one (no journal of its own: a half-written temporary file is never renamed); SQLite's
        own journal and syncs on it doubled the time the window stood still on a busy disk."""
        tmp = self.backup_path.with_name(self.backup_path.name + ".tmp")
        try:
            create_private(tmp)
            dst = sqlite3.connect(str(tmp))
            try:
                dst.execute("PRAGMA journal_mode=OFF")
                dst.execute("PRAGMA synchronous=OFF")
                db.backup(dst)
            finally:
                dst.close()
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.backup_path)
        except (sqlite3.Error, OSError) as exc:
            log.warning("could not back up the job store: %s", exc)

    def backup(self) -> None:
        with self._lock:
            self._backup(self._db)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._db
            except sqlite3.OperationalError as exc:
                raise StorageError(_disk_message(exc), detail=str(exc)) from exc

    # -- rows ------------------------------------------------------------------------------

    def _row(self, r: tuple[Any, ...]) -> Job:
        """A row as a Job; garbage in a row (edited by hand, a bad disk) is kept visible as a
        damaged job rather than raising: the supervisor reconciles with the chain anyway."""
        damaged: list[str] = []

        def load(text: Any, default: Any, name: str) -> Any:
            try:
                value = json.loads(text)
            except (TypeError, ValueError):
                damaged.append(name)
                return default
            if not isinstance(value, type(default)):
                damaged.append(name)
                return default
            return value

        payload = load(r[5], {}, "payload")
        hashes = [h for h in load(r[8], [], "tx_hashes") if isinstance(h, str)]
        result = load(r[10], {}, "result")
        try:
            state = JobState(r[4])
        except ValueError:
            state, damaged = JobState.FAILED, [*damaged, "state"]
        if damaged:
            payload = {**payload, DAMAGED: ", ".join(damaged)}
        return Job(
            id=r[0], key=r[1], kind=r[2], title=r[3], state=state, payload=payload,
            run_at=float(r[6] or 0), attempts=int(r[7] or 0), tx_hashes=tuple(hashes),
            last_error=r[9] or "", result=result, created_at=float(r[11] or 0),
            updated_at=float(r[12] or 0), failures=int(r[13] or 0),
        )

    _COLS = (
        "id,key,kind,title,state,payload,run_at,attempts,tx_hashes,last_error,result,"
        "created_at,updated_at,failures"
    )

    def schedule(
        self, key: str, kind: str, payload: dict[str, Any], *, run_at: float | None = None,
        title: str = "",
    ) -> Job:
        """Add a job unless one with this key exists; returns the stored job either way."""
        now = time.time()
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO jobs"
                "(key,kind,title,state,payload,run_at,created_at,updated_at)"
                " VALUES(?,?,?,?,?,?,?,?)",
                (key, kind, title, JobState.PENDING.value, json.dumps(payload),
                 run_at if run_at is not None else now, now, now),
            )
            cur = db.execute(f"SELECT {self._COLS} FROM jobs WHERE key=?", (key,))
            row = cur.fetchone()
            if row[11] == now:  # newly added: the backup must know about it too
                self._backup(db)
        return self._row(row)

    def get(self, key: str) -> Job | None:
        with self._tx() as db:
            row = db.execute(f"SELECT {self._COLS} FROM jobs WHERE key=?", (key,)).fetchone()
        return self._row(row) if row else None

    def all(self, limit: int = 500) -> list[Job]:
        with self._tx() as db:
            rows = db.execute(
                f"SELECT {self._COLS} FROM jobs ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [self._row(r) for r in rows]

    def open_jobs(self) -> list[Job]:
        with self._tx() as db:
            rows = db.execute(
                f"SELECT {self._COLS} FROM jobs WHERE state IN (?,?) ORDER BY run_at",
                (JobState.PENDING.value, JobState.RUNNING.value),
            ).fetchall()
        return [self._row(r) for r in rows]

    def due(self, now: float | None = None) -> list[Job]:
        now = time.time() if now is None else now
        with self._tx() as db:
            rows = db.execute(
                f"SELECT {self._COLS} FROM jobs WHERE state=? AND run_at<=? ORDER BY run_at",
                (JobState.PENDING.value, now),
            ).fetchall()
        return [self._row(r) for r in rows]

    def next_run_at(self) -> float | None:
        with self._tx() as db:
            row = db.execute(
                "SELECT MIN(run_at) FROM jobs WHERE state=?", (JobState.PENDING.value,)
            ).fetchone()
        return row[0] if row and row[0] is not None else None

    def _update(self, key: str, **cols: Any) -> None:
        cols["updated_at"] = time.time()
        sets = ",".join(f"{k}=?" for k in cols)
        with self._tx() as db:
            db.execute(f"UPDATE jobs SET {sets} WHERE key=?", (*cols.values(), key))

    def mark_running(self, key: str) -> None:
        """A handler starts: one more attempt (a "not yet" is never counted as a failure)."""
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET state=?, attempts=attempts+1, updated_at=? WHERE key=?",
                (JobState.RUNNING.value, time.time(), key),
            )

    def add_tx(self, key: str, tx_hash: str) -> None:
        """Record a transaction hash at once: it is computed from the signed transaction before
        the broadcast, so a crash between the two still leaves the hash to ask the chain about."""
        job = self.get(key)
        if job is None or tx_hash in job.tx_hashes:
            return
        self._update(key, tx_hashes=json.dumps([*job.tx_hashes, tx_hash]))
        self.backup()

    def update_payload(self, key: str, **changes: Any) -> None:
        job = self.get(key)
        if job is None:
            return
        self._update(key, payload=json.dumps({**job.payload, **changes}))

    def done(self, key: str, result: dict[str, Any] | None = None) -> None:
        self._update(key, state=JobState.DONE.value, result=json.dumps(result or {}), last_error="",
                     failures=0)

    def retry_later(self, key: str, run_at: float, error: str = "") -> None:
        """Not yet (or interrupted): wait until ``run_at``; not counted as a failed attempt."""
        self._update(key, state=JobState.PENDING.value, run_at=run_at, last_error=error)

    def retry_now(self, key: str, run_at: float) -> None:
        """The user asked for a retry: a fresh start, with the full number of tries."""
        self._update(key, state=JobState.PENDING.value, run_at=run_at, last_error="", failures=0)

    def failed_attempt(self, key: str, run_at: float, error: str) -> None:
        """A transient error: count it and back off until ``run_at``."""
        with self._tx() as db:
            db.execute(
                "UPDATE jobs SET state=?, run_at=?, last_error=?, failures=failures+1, "
                "updated_at=? WHERE key=?",
                (JobState.PENDING.value, run_at, error, time.time(), key),
            )

    def fail(self, key: str, error: str, *, permanent: bool = False) -> None:
        """Give up for now; a non-permanent failure is retried at the next launch."""
        job = self.get(key)
        result = {**(job.result if job else {}), "permanent": permanent}
        self._update(key, state=JobState.FAILED.value, last_error=error,
                     result=json.dumps(result))

    def recover_after_crash(self) -> int:
        """Jobs left RUNNING by a dead process are re-queued (their handlers are idempotent and
        ask the chain first), and so are failures that were not permanent: a new launch is a
        new chance. Returns how many jobs were re-queued."""
        now = time.time()
        with self._tx() as db:
            cur = db.execute(
                "UPDATE jobs SET state=?, run_at=?, updated_at=? WHERE state=?",
                (JobState.PENDING.value, now, now, JobState.RUNNING.value),
            )
            n = cur.rowcount
            rows = db.execute(
                "SELECT key, result FROM jobs WHERE state=?", (JobState.FAILED.value,)
            ).fetchall()
        for key, result in rows:
            try:
                permanent = bool(json.loads(result).get("permanent"))
            except (TypeError, ValueError, AttributeError):
                permanent = True  # unreadable: leave it failed and visible
            if not permanent:
                with self._tx() as db:
                    db.execute(
                        "UPDATE jobs SET state=?, run_at=?, failures=0, updated_at=? WHERE key=?",
                        (JobState.PENDING.value, now, now, key),
                    )
                n += 1
        return n

