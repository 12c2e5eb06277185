"""The job store fails loudly and safely: owner-only files, a damaged or emptied store never
silently drops pending money jobs, and a full disk stops a transaction from being sent."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest

from app.chain.tx import SentTx
from app.storage.jobs import JobState, JobStore, StorageError
from app.storage.sessions import SessionStore


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_job_and_session_files_are_owner_only(tmp_path: Path) -> None:
    jobs = JobStore(tmp_path / "jobs.sqlite3")
    jobs.schedule("close:1", "consumer.close", {"session_id": "0x1"})
    sessions = SessionStore(tmp_path / "sessions.sqlite3")
    for p in tmp_path.iterdir():
        assert _mode(p) == 0o600, p.name
    jobs.close()
    sessions.close()


def test_emptied_store_is_restored_from_the_last_good_copy_and_the_user_is_told(
    tmp_path: Path,
) -> None:
    path = tmp_path / "jobs.sqlite3"
    store = JobStore(path)
    store.schedule("close:0xab", "consumer.close", {"session_id": "0xab"})
    store.backup()  # what the supervisor does after each reconcile
    store.close()
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    path.write_bytes(b"")  # emptied to 0 bytes (a crash of some other tool, a bad sync)

    again = JobStore(path)
    job = again.get("close:0xab")
    assert job is not None and job.state is JobState.PENDING
    assert "emptied" in again.notice and "restored" in again.notice
    assert any(p.name.startswith("jobs.sqlite3.damaged-") for p in tmp_path.iterdir())


def test_corrupt_store_is_kept_aside_and_named(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    store = JobStore(path)
    store.schedule("withdraw:1", "consumer.withdraw", {})
    store.close()
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    path.write_bytes(b"this is not a database at all" * 100)

    again = JobStore(path)  # opened at last start's backup: no raw traceback
    assert "damaged" in again.notice
    assert again.get("withdraw:1") is not None
    damaged = [p for p in tmp_path.iterdir() if ".damaged-" in p.name]
    assert damaged and damaged[0].read_bytes().startswith(b"this is not a database")


class _FullDisk:
    """A connection whose writes fail as SQLite does on a full disk (cannot fill a real one)."""

    def __init__(self, real: sqlite3.Connection) -> None:
        self._real = real

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.lstrip().upper().startswith(("UPDATE", "INSERT")):
            raise sqlite3.OperationalError("database or disk is full")
        return self._real.execute(sql, *args)

    def close(self) -> None:
        self._real.close()


async def test_disk_full_gives_a_plain_message_and_stops_the_send(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    store.schedule("open:1", "consumer.open", {})
    store._db = _FullDisk(store._db)  # type: ignore[assignment]
    with pytest.raises(StorageError) as err:
        store.add_tx("open:1", "0x" + "ab" * 32)
    assert "disk is full" in err.value.message and "Nothing was sent" in err.value.message

    # The tx manager reports the hash before broadcasting: a failing record stops the send.
    from app.chain.tx import TxManager

    broadcasts: list[str] = []

    class Rpc:
        async def request(self, method: str, params: list[Any] | None = None) -> Any:
            if method == "eth_sendRawTransaction":
                broadcasts.append(method)
                return "0x"
            if method in ("eth_getTransactionCount", "eth_estimateGas"):
                return "0x5208"
            if method == "eth_getBalance":
                return hex(10**18)
            if method == "eth_call":
                return "0x"
            raise AssertionError(method)

        async def batch(self, calls: list[Any]) -> list[Any]:
            return [{"baseFeePerGas": "0x1"}, "0x1"]

    from eth_account import Account

    acct = Account.create()
    tm = TxManager(Rpc(), 31337)  # type: ignore[arg-type]

    def record(tx: SentTx) -> None:
        store.add_tx("open:1", tx.tx_hash)

    with pytest.raises(StorageError):
        await tm.send(acct, "0x" + "11" * 20, b"\x01", on_sent=record)
    assert broadcasts == []


async def test_garbage_in_a_job_row_is_a_plain_failed_job_not_a_traceback(tmp_path: Path) -> None:
    from app.services.tasks import Done, TaskRunner

    path = tmp_path / "jobs.sqlite3"
    store = JobStore(path)
    store.schedule("close:1", "consumer.close", {"session_id": "0x1"})
    store.schedule("close:2", "consumer.close", {"session_id": "0x2"})
    raw = sqlite3.connect(str(path))
    raw.execute("UPDATE jobs SET payload='{not json', tx_hashes='7' WHERE key='close:1'")
    raw.commit()
    raw.close()

    runner = TaskRunner(store)
    ran: list[str] = []

    async def close(job: Any, r: TaskRunner) -> Done:
        ran.append(job.key)
        return Done()

    runner.register("consumer.close", close)
    assert {j.key for j in store.all()} == {"close:1", "close:2"}  # listed, no traceback
    await runner.run_due()
    assert ran == ["close:2"]  # the healthy job still runs
    bad = store.get("close:1")
    assert bad is not None and bad.state is JobState.FAILED
    assert "damaged" in bad.last_error and "nothing is lost" in bad.last_error
