"""Every session this wallet opened (as a consumer) or served (as a provider), kept locally so the
program knows what stake is out there and when it comes back, even if the chain node is down."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

from app.storage.jobs import create_private

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


class SessionStore:
    def __init__(self, path: Path) -> None:
        create_private(path)  # owner-only: it says what stake this wallet has out there
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # Money columns are TEXT: wei amounts exceed SQLite's 64-bit integers.
        cols = ",".join(
            f"{n} TEXT" if n in _INT else f"{n} {'REAL' if n == 'updated_at' else 'TEXT'}"
            for n in _FIELDS
        )
        self._db.execute(
            f"CREATE TABLE IF NOT EXISTS sessions ({cols}, PRIMARY KEY(session_id, role))"
        )

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
