"""Chat history: conversations, their messages with generation metrics, and per-model settings.

Why SQLite: the history must survive crashes, be searchable, and be cheap to list with thousands of
conversations; one small file under the data dir does all of that without a server.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from app.errors import UserFacingError
from app.storage.db import connect, migrate

if TYPE_CHECKING:  # imported where used: listing chats at start-up needs none of them
    from app.inference.types import CompletionMetrics, Role, SamplingParams

DEFAULT_TITLE = "New chat"

_MIGRATIONS = (
    """
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        model TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX conversations_updated ON conversations(updated_at DESC);
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
        content TEXT NOT NULL,
        model TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        ttft_ms REAL,
        tokens_per_s REAL,
        finish_reason TEXT
    );
    CREATE INDEX messages_conversation ON messages(conversation_id, id);
    CREATE TABLE model_settings (
        model TEXT PRIMARY KEY,
        system_prompt TEXT NOT NULL DEFAULT '',
        params_json TEXT NOT NULL DEFAULT '{}',
        updated_at REAL NOT NULL
    );
    """,
)


class ChatStoreError(UserFacingError):
    """A chat-history operation could not be done (unknown conversation, bad settings)."""


class ConversationNotFound(ChatStoreError):
    pass


class InvalidChatSettings(ChatStoreError):
    pass


# Conversation and StoredMessage are NamedTuples: read at every start (the chat list), and
# ~1 ms less each to define than a frozen dataclass.
class Conversation(NamedTuple):
    id: int
    title: str
    model: str
    created_at: float
    updated_at: float


class StoredMessage(NamedTuple):
    id: int
    conversation_id: int
    role: Role
    content: str
    model: str
    created_at: float
    metrics: CompletionMetrics | None = None


def _default_params() -> SamplingParams:
    from app.inference.types import SamplingParams

    return SamplingParams()


@dataclass(frozen=True)
class ModelSettings:
    """What the user chose for one model: a system prompt and sampling parameters."""

    system_prompt: str = ""
    params: SamplingParams = field(default_factory=_default_params)


def validate_params(params: SamplingParams) -> None:
    """Refuse sampling values llama.cpp would misbehave on, with a message a person can act on."""
    problems = []
    if not 1 <= params.max_tokens <= 1_000_000:
        problems.append("the answer length must be at least 1 token")
    if not 0.0 <= params.temperature <= 2.0:
        problems.append("temperature must be between 0 and 2")
    if not 0.0 < params.top_p <= 1.0:
        problems.append("top-p must be above 0 and at most 1")
    if params.top_k < 0:
        problems.append("top-k cannot be negative")
    if not 0.0 < params.repeat_penalty <= 5.0:
        problems.append("repeat penalty must be above 0 and at most 5")
    if not -2.0 <= params.frequency_penalty <= 2.0:
        problems.append("frequency penalty must be between -2 and 2")
    if not -2.0 <= params.presence_penalty <= 2.0:
        problems.append("presence penalty must be between -2 and 2")
    if problems:
        raise InvalidChatSettings("Check the chat settings: " + "; ".join(problems) + ".")


def _params_to_json(params: SamplingParams) -> str:
    data = asdict(params)
    data["stop"] = list(params.stop)
    return json.dumps(data, sort_keys=True)


def _params_from_json(text: str) -> SamplingParams:
    from app.inference.types import SamplingParams

    try:
        data = json.loads(text or "{}")
    except json.JSONDecodeError:
        return SamplingParams()
    known = SamplingParams.__dataclass_fields__
    kwargs = {k: v for k, v in data.items() if k in known}
    if "stop" in kwargs:
        kwargs["stop"] = tuple(str(s) for s in kwargs["stop"] or ())
    try:
        return SamplingParams(**kwargs)
    except TypeError:
        return SamplingParams()


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class ChatStore:
    """All chat history on one SQLite connection; use it from one thread (the GUI's)."""

    def __init__(self, path: Path | str) -> None:
        self._conn = connect(path)
        migrate(self._conn, _MIGRATIONS)

    def close(self) -> None:
        self._conn.close()

    # conversations -------------------------------------------------------------------------
    def create_conversation(self, title: str = DEFAULT_TITLE, model: str = "") -> Conversation:
        now = time.time()
        title = title.strip() or DEFAULT_TITLE
        cur = self._conn.execute(
            "INSERT INTO conversations(title, model, created_at, updated_at) VALUES (?, ?, ?, ?)",
            (title, model, now, now),
        )
        return Conversation(int(cur.lastrowid or 0), title, model, now, now)

    def get_conversation(self, conversation_id: int) -> Conversation:
        row = self._conn.execute(
            "SELECT * FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()
        if row is None:
            raise ConversationNotFound("That conversation no longer exists.")
        return _conversation(row)

    def list_conversations(self, search: str = "") -> list[Conversation]:
        """Newest first; with ``search``, only those whose title or any message contains it."""
        if not search.strip():
            rows = self._conn.execute(
                "SELECT * FROM conversations ORDER BY updated_at DESC, id DESC"
            ).fetchall()
        else:
            pattern = _like_pattern(search.strip())
            rows = self._conn.execute(
                "SELECT * FROM conversations c WHERE c.title LIKE ? ESCAPE '\\' OR EXISTS ("
                " SELECT 1 FROM messages m WHERE m.conversation_id = c.id"
                " AND m.content LIKE ? ESCAPE '\\') ORDER BY updated_at DESC, id DESC",
                (pattern, pattern),
            ).fetchall()
        return [_conversation(r) for r in rows]

    def search(self, text: str) -> list[Conversation]:
        return self.list_conversations(search=text)

    def rename(self, conversation_id: int, title: str) -> Conversation:
        title = title.strip()
        if not title:
            raise ChatStoreError("A conversation name cannot be empty.")
        cur = self._conn.execute(
            "UPDATE conversations SET title = ? WHERE id = ?", (title[:200], conversation_id)
        )
        if cur.rowcount == 0:
            raise ConversationNotFound("That conversation no longer exists.")
        return self.get_conversation(conversation_id)

    def set_model(self, conversation_id: int, model: str) -> None:
        self._conn.execute(
            "UPDATE conversations SET model = ? WHERE id = ?", (model, conversation_id)
        )

    def delete(self, conversation_id: int) -> None:
        self._conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    # messages ------------------------------------------------------------------------------
    def add_message(
        self,
        conversation_id: int,
        role: Role,
        content: str,
        *,
        model: str = "",
        metrics: CompletionMetrics | None = None,
    ) -> StoredMessage:
        now = time.time()
        m = metrics
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            cur = self._conn.execute(
                "INSERT INTO messages(conversation_id, role, content, model, created_at,"
                " prompt_tokens, completion_tokens, ttft_ms, tokens_per_s, finish_reason)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    conversation_id,
                    role,
                    content,
                    model,
                    now,
                    m.prompt_tokens if m else None,
                    m.completion_tokens if m else None,
                    m.ttft_ms if m else None,
                    m.tokens_per_s if m else None,
                    m.finish_reason if m else None,
                ),
            )
            self._conn.execute(
                "UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id)
            )
            self._conn.execute("COMMIT")
        except sqlite3.IntegrityError as exc:
            self._conn.execute("ROLLBACK")
            raise ConversationNotFound(
                "That conversation no longer exists.", detail=str(exc)
            ) from exc
        return StoredMessage(
            int(cur.lastrowid or 0), conversation_id, role, content, model, now, metrics
        )

    def messages(self, conversation_id: int) -> list[StoredMessage]:
        rows = self._conn.execute(
            "SELECT * FROM messages WHERE conversation_id = ? ORDER BY id", (conversation_id,)
        ).fetchall()
        return [_message(r) for r in rows]

    def delete_messages_from(self, conversation_id: int, message_id: int) -> int:
        """Drop a message and everything after it (regenerate, edit-and-resend); return count."""
        cur = self._conn.execute(
            "DELETE FROM messages WHERE conversation_id = ? AND id >= ?",
            (conversation_id, message_id),
        )
        return cur.rowcount

    # per-model settings --------------------------------------------------------------------
    def model_settings(self, model: str) -> ModelSettings:
        row = self._conn.execute(
            "SELECT system_prompt, params_json FROM model_settings WHERE model = ?", (model,)
        ).fetchone()
        if row is None:
            return ModelSettings()
        return ModelSettings(row["system_prompt"], _params_from_json(row["params_json"]))

    def save_model_settings(self, model: str, settings: ModelSettings) -> None:
        validate_params(settings.params)
        self._conn.execute(
            "INSERT INTO model_settings(model, system_prompt, params_json, updated_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT(model) DO UPDATE SET"
            " system_prompt = excluded.system_prompt, params_json = excluded.params_json,"
            " updated_at = excluded.updated_at",
            (model, settings.system_prompt, _params_to_json(settings.params), time.time()),
        )


def _conversation(row: sqlite3.Row) -> Conversation:
    return Conversation(row["id"], row["title"], row["model"], row["created_at"], row["updated_at"])


def _message(row: sqlite3.Row) -> StoredMessage:
    from app.inference.types import CompletionMetrics

    metrics = None
    if row["finish_reason"] is not None:
        metrics = CompletionMetrics(
            prompt_tokens=row["prompt_tokens"] or 0,
            completion_tokens=row["completion_tokens"] or 0,
            ttft_ms=row["ttft_ms"] or 0.0,
            tokens_per_s=row["tokens_per_s"] or 0.0,
            finish_reason=row["finish_reason"],
        )
    return StoredMessage(
        row["id"],
        row["conversation_id"],
        row["role"],
        row["content"],
        row["model"],
        row["created_at"],
        metrics,
    )


def default_chat_store_path(data_dir: Path) -> Path:
    """Chats get their own file so their schema version never collides with another store's."""
    return data_dir / "chats.sqlite3"
