"""The job runner keeps money-moving work alive across failures and restarts."""

from __future__ import annotations

from pathlib import Path

from app.services.tasks import Done, PermanentError, RetryAt, TaskRunner
from app.storage.jobs import Job, JobState, JobStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_scheduling_is_idempotent_and_job_runs_once(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "jobs.sqlite3")
    runner = TaskRunner(store)
    calls: list[str] = []

    async def close(job: Job, r: TaskRunner) -> Done:
        calls.append(job.payload["session"])
        return Done({"tx": "0xabc"})

    runner.register("close", close)
    runner.schedule("close:1", "close", {"session": "1"})
    runner.schedule("close:1", "close", {"session": "1"})
    assert await runner.run_due() == 1
    assert await runner.run_due() == 0
    assert calls == ["1"]
    job = store.get("close:1")
    assert job is not None and job.state is JobState.DONE and job.result == {"tx": "0xabc"}


async def test_transient_error_backs_off_then_succeeds(tmp_path: Path) -> None:
    clock = Clock()
    runner = TaskRunner(JobStore(tmp_path / "j.sqlite3"), clock=clock)
    attempts = 0

    async def flaky(job: Job, r: TaskRunner) -> Done:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConnectionError("rpc down")
        return Done()

    runner.register("withdraw", flaky)
    runner.schedule("w", "withdraw", {}, run_at=clock.now)
    await runner.run_due()
    job = runner.store.get("w")
    assert job is not None and job.state is JobState.PENDING and "rpc down" in job.last_error
    assert job.run_at > clock.now  # backed off, not hammering a dead node
    assert await runner.run_due() == 0
    clock.now = job.run_at
    await runner.run_due()
    clock.now += 3600
    await runner.run_due()
    final = runner.store.get("w")
    assert final is not None and final.state is JobState.DONE and attempts == 3


async def test_retry_at_and_permanent_failure_and_manual_retry(tmp_path: Path) -> None:
    clock = Clock()
    runner = TaskRunner(JobStore(tmp_path / "j.sqlite3"), clock=clock)
    state = {"fail": True}

    async def wait_release(job: Job, r: TaskRunner) -> RetryAt | Done:
        if clock.now < 2_000_000:
            return RetryAt(2_000_000, "held until midnight")
        if state["fail"]:
            raise PermanentError("This session belongs to another wallet.")
        return Done()

    runner.register("hold", wait_release)
    runner.schedule("h", "hold", {})
    await runner.run_due()
    assert runner.store.next_run_at() == 2_000_000
    clock.now = 2_000_000
    await runner.run_due()
    failed = runner.store.get("h")
    assert failed is not None and failed.state is JobState.FAILED
    assert "another wallet" in failed.last_error
    state["fail"] = False
    runner.retry("h")
    await runner.run_due()
    done = runner.store.get("h")
    assert done is not None and done.state is JobState.DONE


async def test_jobs_left_running_by_a_killed_process_are_requeued(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    store = JobStore(path)
    store.schedule("open:1", "open", {"bid": "0x01"})
    store.mark_running("open:1")
    store.add_tx("open:1", "0xdeadbeef")
    store.close()  # the process "dies" here

    store2 = JobStore(path)
    assert store2.recover_after_crash() == 1
    job = store2.get("open:1")
    assert job is not None and job.state is JobState.PENDING
    assert job.tx_hashes == ("0xdeadbeef",)  # the sent tx is still known after the crash


def test_session_records_keep_big_wei_amounts_and_survive_reopen(tmp_path: Path) -> None:
    from app.storage.sessions import SessionRecord, SessionStore

    path = tmp_path / "s.sqlite3"
    store = SessionStore(path)
    big = 633 * 10**18 + 1  # larger than SQLite's int64
    store.upsert(SessionRecord("0xAB" + "0" * 62, "consumer", "0xu", "0xp", "0xb", stake=big))
    store.update("0x" + "ab" + "0" * 62, "consumer", status="closed", refunded=big - 5)
    store.close()
    rec = SessionStore(path).get("0xab" + "0" * 62, "consumer")
    assert rec is not None and rec.stake == big and rec.refunded == big - 5
    assert rec.status == "closed"
