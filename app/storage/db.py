"""A tiny SQLite helper shared by the stores: one way to open a database and one way to migrate it.

Why: every store (chats, jobs, sessions) needs the same things — an owner-only file (it says what
this wallet has at stake and what it talked about), WAL so a reader never blocks the writer,
foreign keys on, a busy timeout instead of "database is locked", and schema upgrades that run
exactly once. Migrations are numbered by position and tracked with ``PRAGMA user_version`` for a
database file owned by one store, or per ``component`` in a small table when stores share a file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from app.errors import UserFacingError

Migration = str | Callable[[sqlite3.Connection], None]


class DatabaseError(UserFacingError):
    """The local database could not be opened or upgraded."""


def create_private(path: Path) -> None:
    """Create ``path`` empty and owner-only (0600) if missing, and make it 0600 if it is not.

    Done before SQLite opens the file: SQLite gives its -wal and -shm files the database file's
    permissions, so they are owner-only from their first byte.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    with contextlib.suppress(OSError):
        path.chmod(0o600)


def connect(
    path: Path | str, *, check_same_thread: bool = True, synchronous: str = "NORMAL"
) -> sqlite3.Connection:
    """Open (creating if needed, owner-only) a SQLite file with WAL, foreign keys and a busy
    timeout. ``synchronous="FULL"`` for a store whose every commit must survive a power cut."""
    if synchronous not in ("NORMAL", "FULL"):
        raise ValueError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
    if str(path) != ":memory:":
        create_private(Path(path))
        for suffix in ("-wal", "-shm", "-journal"):  # left by an older program, maybe readable
            with contextlib.suppress(OSError):
                Path(f"{path}{suffix}").chmod(0o600)
    try:
        conn = sqlite3.connect(
            str(path), timeout=10.0, check_same_thread=check_same_thread, isolation_level=None
        )
    except sqlite3.DatabaseError as exc:
        raise _unopenable(path, exc) from exc
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA synchronous={synchronous}")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise _unopenable(path, exc) from exc
    return conn


def _unopenable(path: Path | str, exc: sqlite3.Error) -> DatabaseError:
    return DatabaseError(
        f"The local database at {path} could not be opened. It may be damaged.",
        detail=str(exc),
    )


def columns(conn: sqlite3.Connection, table: str) -> set[str]:
    """The column names ``table`` has now (for a migration step that adds one only if missing)."""
    return {str(r[1]) for r in conn.execute(f"PRAGMA table_info({table})").fetchall()}


def _current_version(conn: sqlite3.Connection, component: str | None) -> int:
    if component is None:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_versions "
        "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
    )
    row = conn.execute(
        "SELECT version FROM schema_versions WHERE component = ?", (component,)
    ).fetchone()
    return int(row[0]) if row else 0


def _set_version(conn: sqlite3.Connection, component: str | None, version: int) -> None:
    if component is None:
        conn.execute(f"PRAGMA user_version = {int(version)}")
    else:
        conn.execute(
            "INSERT INTO schema_versions(component, version) VALUES (?, ?) "
            "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
            (component, version),
        )


def migrate(
    conn: sqlite3.Connection, migrations: Sequence[Migration], *, component: str | None = None
) -> int:
    """Apply the migrations not applied yet, each in its own transaction; return the new version.

    ``migrations[i]`` brings the schema from version ``i`` to ``i + 1``. Never edit or reorder a
    released step: append a new one. A database newer than this program is refused rather than
    guessed at.
    """
    version = _current_version(conn, component)
    if version > len(migrations):
        raise DatabaseError(
            "This database was written by a newer version of Morpheus Desktop. "
            "Please update the program.",
            detail=f"{component or 'user_version'}={version} > {len(migrations)}",
        )
    for index in range(version, len(migrations)):
        step = migrations[index]
        conn.execute("BEGIN IMMEDIATE")
        try:
            if isinstance(step, str):
                for statement in _split_sql(step):
                    conn.execute(statement)
            else:
                step(conn)
            _set_version(conn, component, index + 1)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(migrations)


def _split_sql(script: str) -> list[str]:
    """Split a script into statements (``executescript`` would commit our transaction).

    Each ``;`` ends a statement only where SQLite agrees it completes one, so semicolons inside
    strings and trigger bodies stay put.
    """
    statements: list[str] = []
    start = 0
    for pos, ch in enumerate(script):
        if ch == ";" and sqlite3.complete_statement(script[start : pos + 1]):
            statements.append(script[start : pos + 1].strip())
            start = pos + 1
    if script[start:].strip():
        statements.append(script[start:].strip())
    return statements
