"""A tiny SQLite helper shared by the stores: one way to open a database and one way to migrate it.

Why: every store (chats, jobs, sessions) needs the same things — WAL so a reader never blocks the
writer, foreign keys on, a busy timeout instead of "database is locked", and schema upgrades that
run exactly once. Migrations are numbered by position and tracked with ``PRAGMA user_version`` for
a database file owned by one store, or per ``component`` in a small table when stores share a file.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from app.errors import UserFacingError

Migration = str | Callable[[sqlite3.Connection], None]


class DatabaseError(UserFacingError):
    """The local database could not be opened or upgraded."""


def connect(path: Path | str, *, check_same_thread: bool = True) -> sqlite3.Connection:
    """Open (creating if needed) a SQLite file with WAL, foreign keys and a busy timeout."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(
            str(path), timeout=10.0, check_same_thread=check_same_thread, isolation_level=None
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(
            f"The local database at {path} could not be opened. It may be damaged.",
            detail=str(exc),
        ) from exc
    if str(path) != ":memory:":
        with contextlib.suppress(OSError):
            Path(path).chmod(0o600)
    return conn


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
