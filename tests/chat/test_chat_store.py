"""Chat history in SQLite: what a user expects to find again after closing the program."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.inference.types import CompletionMetrics, SamplingParams
from app.storage.chats import (
    ChatStore,
    ChatStoreError,
    ConversationNotFound,
    InvalidChatSettings,
    ModelSettings,
)
from app.storage.db import DatabaseError, connect, migrate

METRICS = CompletionMetrics(
    prompt_tokens=12, completion_tokens=30, ttft_ms=85.5, tokens_per_s=41.25, finish_reason="stop"
)


@pytest.fixture
def store(tmp_path: Path) -> ChatStore:
    return ChatStore(tmp_path / "chats.sqlite3")


def test_conversations_and_messages_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "chats.sqlite3"
    store = ChatStore(path)
    conv = store.create_conversation("Rust lifetimes", "smollm2")
    store.add_message(conv.id, "user", "What is a lifetime?", model="smollm2")
    store.add_message(
        conv.id, "assistant", "A scope for borrows.", model="smollm2", metrics=METRICS
    )
    store.close()

    again = ChatStore(path)
    [loaded] = again.list_conversations()
    assert (loaded.title, loaded.model) == ("Rust lifetimes", "smollm2")
    msgs = again.messages(conv.id)
    assert [(m.role, m.content) for m in msgs] == [
        ("user", "What is a lifetime?"),
        ("assistant", "A scope for borrows."),
    ]
    assert msgs[0].metrics is None
    assert msgs[1].metrics == METRICS
    assert path.stat().st_mode & 0o077 == 0  # other users cannot read the history


def test_list_is_newest_activity_first(store: ChatStore) -> None:
    a = store.create_conversation("first")
    b = store.create_conversation("second")
    store.add_message(a.id, "user", "bump")
    assert [c.title for c in store.list_conversations()] == ["first", "second"]
    store.add_message(b.id, "user", "bump")
    assert [c.title for c in store.list_conversations()] == ["second", "first"]


def test_search_matches_titles_and_message_text(store: ChatStore) -> None:
    cooking = store.create_conversation("Dinner ideas")
    store.add_message(cooking.id, "user", "How long do I boil pasta?")
    code = store.create_conversation("Python help")
    store.add_message(code.id, "assistant", "Use a list comprehension: [x for x in xs]")
    store.add_message(code.id, "user", "What does 100% coverage mean?")

    assert [c.id for c in store.search("PASTA")] == [cooking.id]  # case-insensitive
    assert [c.id for c in store.search("python")] == [code.id]  # title
    assert [c.id for c in store.search("comprehension")] == [code.id]  # assistant text
    assert [c.id for c in store.search("100%")] == [code.id]  # % is literal, not a wildcard
    assert store.search("0%c") == []
    assert store.search("x_x") == []  # _ is literal too
    assert len(store.search("  ")) == 2  # blank search lists all


def test_rename_and_delete(store: ChatStore) -> None:
    conv = store.create_conversation("old")
    store.add_message(conv.id, "user", "hi")
    assert store.rename(conv.id, "  new name ").title == "new name"
    with pytest.raises(ChatStoreError, match="cannot be empty"):
        store.rename(conv.id, "   ")
    assert store.get_conversation(conv.id).title == "new name"  # nothing lost
    store.delete(conv.id)
    assert store.list_conversations() == []
    assert store.messages(conv.id) == []  # messages go with it
    with pytest.raises(ConversationNotFound):
        store.rename(conv.id, "x")
    with pytest.raises(ConversationNotFound):
        store.add_message(conv.id, "user", "orphan")


def test_delete_messages_from_supports_regenerate_and_edit(store: ChatStore) -> None:
    conv = store.create_conversation()
    q1 = store.add_message(conv.id, "user", "q1")
    store.add_message(conv.id, "assistant", "a1")
    q2 = store.add_message(conv.id, "user", "q2")
    store.add_message(conv.id, "assistant", "a2")
    assert store.delete_messages_from(conv.id, q2.id) == 2
    assert [m.content for m in store.messages(conv.id)] == ["q1", "a1"]
    other = store.create_conversation()
    store.add_message(other.id, "user", "keep me")
    store.delete_messages_from(conv.id, q1.id)
    assert store.messages(conv.id) == []
    assert [m.content for m in store.messages(other.id)] == ["keep me"]


def test_model_settings_round_trip_and_validation(store: ChatStore) -> None:
    assert store.model_settings("smollm2") == ModelSettings()
    chosen = ModelSettings(
        "Answer like a pirate.",
        SamplingParams(
            max_tokens=64,
            temperature=0.2,
            top_p=0.9,
            top_k=20,
            frequency_penalty=0.5,
            stop=("###",),
            seed=7,
        ),
    )
    store.save_model_settings("smollm2", chosen)
    assert store.model_settings("smollm2") == chosen
    assert store.model_settings("other-model") == ModelSettings()
    with pytest.raises(InvalidChatSettings, match="temperature"):
        store.save_model_settings("smollm2", ModelSettings("", SamplingParams(temperature=9)))
    with pytest.raises(InvalidChatSettings, match="answer length"):
        store.save_model_settings("smollm2", ModelSettings("", SamplingParams(max_tokens=0)))
    with pytest.raises(InvalidChatSettings, match="presence penalty"):
        store.save_model_settings("smollm2", ModelSettings("", SamplingParams(presence_penalty=3)))
    assert store.model_settings("smollm2") == chosen  # a refused save changes nothing


def test_migrations_run_once_and_newer_databases_are_refused(tmp_path: Path) -> None:
    conn = connect(tmp_path / "x.sqlite3")
    steps = ["CREATE TABLE a (x INTEGER);", "ALTER TABLE a ADD COLUMN y TEXT;"]
    assert migrate(conn, steps) == 2
    assert migrate(conn, steps) == 2  # second run is a no-op, not an error
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(DatabaseError, match="newer version"):
        migrate(conn, steps[:1])


def test_failed_migration_leaves_the_old_schema(tmp_path: Path) -> None:
    conn = connect(tmp_path / "x.sqlite3")
    migrate(conn, ["CREATE TABLE a (x INTEGER);"])
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, ["CREATE TABLE a (x INTEGER);", "CREATE TABLE b (x); BROKEN SQL;"])
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'b'").fetchone() is None


def test_components_keep_separate_versions_in_one_file(tmp_path: Path) -> None:
    conn = connect(tmp_path / "shared.sqlite3")
    migrate(conn, ["CREATE TABLE jobs (id INTEGER);"], component="jobs")
    migrate(conn, ["CREATE TABLE s1 (id INTEGER);", "CREATE TABLE s2 (id INTEGER);"], component="s")
    assert migrate(conn, ["CREATE TABLE jobs (id INTEGER);"], component="jobs") == 1


def test_damaged_database_gets_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "chats.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(DatabaseError, match="could not be opened"):
        ChatStore(path)
