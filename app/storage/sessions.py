"""Every session this wallet opened (as a consumer) or served (as a provider), kept locally so the
program knows what stake is out there and when it comes back, even if the chain node is down."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

from app.storage.db import Migration, connect, migrate

Role = Literal["consumer", "provider"]


@dataclass(frozen=True)
class SessionRecord:
    session_id: str  # 0x + 64 lowercase hex
    role: Role
    user: str
    provider: str
    bid_id: str
    model_id: str = ""
    endpoint: str = ""
    price_per_second: int = 0
    stake: int = 0
    opened_at: int = 0
    ends_at: int = 0
    closed_at: int = 0
    refunded: int = 0  # MOR returned to the user at close
    on_hold: int = 0  # MOR held until on_hold_until
    on_hold_until: int = 0
    spent: int = 0  # what the provider was paid for this session
    prompts: int = 0
    tokens: int = 0
    status: str = "open"  # open | closing | closed
    open_tx: str = ""
    close_tx: str = ""
    updated_at: float = 0.0


_FIELDS = [f.name for f in fields(SessionRecord)]
_INT = {f.name for f in fields(SessionRecord) if f.type in ("int", int)}

# ``PRAGMA user_version`` steps; never edit a released one, append (a new field of
# ``SessionRecord`` is an ``ALTER TABLE sessions ADD COLUMN`` step). Money columns are TEXT: wei
# amounts exceed SQLite's 64-bit integers. ``IF NOT EXISTS``: a store written before versions
# (user_version 0) has this table already.
_MIGRATIONS: tuple[Migration, ...] = ("""
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT, role TEXT, user TEXT, provider TEXT, bid_id TEXT, model_id TEXT,
    endpoint TEXT, price_per_second TEXT, stake TEXT, opened_at TEXT, ends_at TEXT,
    closed_at TEXT, refunded TEXT, on_hold TEXT, on_hold_until TEXT, spent TEXT, prompts TEXT,
    tokens TEXT, status TEXT, open_tx TEXT, close_tx TEXT, updated_at REAL,
    PRIMARY KEY(session_id, role)
);
""",)


class SessionStore:
    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        # Owner-only (db.connect): it says what stake this wallet has out there.
        self._db = connect(path, check_same_thread=False)
        try:
            migrate(self._db, _MIGRATIONS)
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @staticmethod
    def _from_row(row: tuple[Any, ...]) -> SessionRecord:
        values: dict[str, Any] = {}
        for name, v in zip(_FIELDS, row, strict=True):
            values[name] = int(v) if name in _INT else (float(v) if name == "updated_at" else v)
        return SessionRecord(**values)

    def upsert(self, rec: SessionRecord) -> SessionRecord:
        rec = replace(rec, session_id=rec.session_id.lower(), updated_at=time.time())
        vals = [str(getattr(rec, n)) if n in _INT else getattr(rec, n) for n in _FIELDS]
        with self._lock:
            self._db.execute(
                f"INSERT OR REPLACE INTO sessions({','.join(_FIELDS)}) "
                f"VALUES({','.join('?' * len(_FIELDS))})",
                vals,
            )
        return rec

    def update(self, session_id: str, role: Role, **changes: Any) -> SessionRecord | None:
        cur = self.get(session_id, role)
        if cur is None:
            return None
        return self.upsert(replace(cur, **changes))

    def get(self, session_id: str, role: Role) -> SessionRecord | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {','.join(_FIELDS)} FROM sessions WHERE session_id=? AND role=?",
                (session_id.lower(), role),
            ).fetchone()
        return self._from_row(row) if row else None

    def list(self, role: Role | None = None) -> list[SessionRecord]:
        q = f"SELECT {','.join(_FIELDS)} FROM sessions"
        args: tuple[Any, ...] = ()
        if role:
            q += " WHERE role=?"
            args = (role,)
        with self._lock:
            rows = self._db.execute(q, args).fetchall()
        return sorted((self._from_row(r) for r in rows), key=lambda r: -r.opened_at)
