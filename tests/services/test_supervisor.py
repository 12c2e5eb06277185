"""Retry semantics, the locked wallet, and one job-running process per data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.paths import AppPaths
from app.services.supervisor import DataDirLock, JobsRunElsewhere, WaitingForUnlock
from app.services.tasks import LOCKED_REASON, MAX_ATTEMPTS, Done, RetryAt, TaskRunner
from app.services.wallet_service import WalletService
from app.storage.jobs import Job, JobState, JobStore
from app.wallet.errors import WalletLocked
from app.wallet.signer import LocalSigner


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_not_yet_is_never_a_failure(tmp_path: Path) -> None:
    """A withdraw that waits for midnight for days never gives up."""
    clock = Clock()
    runner = TaskRunner(JobStore(tmp_path / "j.sqlite3"), clock=clock)

    async def wait(job: Job, r: TaskRunner) -> RetryAt:
        return RetryAt(clock.now + 3600, "held until the next UTC midnight")

    runner.register("consumer.withdraw", wait)
    runner.schedule("w", "consumer.withdraw", {})
    for _ in range(MAX_ATTEMPTS * 3):
        clock.now += 3600
        await runner.run_due()
    job = runner.store.get("w")
    assert job is not None and job.state is JobState.PENDING and job.failures == 0


async def test_transient_errors_back_off_with_a_cap_then_fail_visibly_and_retry_next_launch(
    tmp_path: Path,
) -> None:
    clock = Clock()
    path = tmp_path / "j.sqlite3"
    runner = TaskRunner(JobStore(path), clock=clock)

    async def down(job: Job, r: TaskRunner) -> Done:
        raise ConnectionError("node unreachable")

    runner.register("consumer.close", down)
    runner.schedule("c", "consumer.close", {})
    delays = []
    for _ in range(MAX_ATTEMPTS):
        job = runner.store.get("c")
        assert job is not None
        clock.now = max(clock.now, job.run_at)
        await runner.run_due()
        after = runner.store.get("c")
        assert after is not None
        delays.append(after.run_at - clock.now)
    assert max(delays[:-1]) <= 600  # capped
    failed = runner.store.get("c")
    assert failed is not None and failed.state is JobState.FAILED
    assert "node unreachable" in failed.last_error  # visible, with its reason
    runner.store.close()

    # The next launch tries again.
    again = JobStore(path)
    assert again.recover_after_crash() == 1
    job = again.get("c")
    assert job is not None and job.state is JobState.PENDING and job.failures == 0


async def test_a_locked_wallet_makes_jobs_wait_and_unlock_runs_them(tmp_path: Path) -> None:
    clock = Clock()
    runner = TaskRunner(JobStore(tmp_path / "j.sqlite3"), clock=clock)

    # the real wallet, locked from the start (as at a launch without "remember")
    paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "l", tmp_path / "x").ensure()
    wallet = WalletService(paths, keystore_scrypt_n=2**10, seal_scrypt_n=2**10)
    wallet.import_private_key("0x" + "01" * 32, "correct horse 42!")
    wallet.lock()
    signer = wallet.standing_signer()
    assert signer.address == LocalSigner(b"\x01" * 32).address

    async def close(job: Job, r: TaskRunner) -> Done:
        signer.sign_raw_hash(b"\x07" * 32)  # any signature attempt
        return Done()

    runner.register("consumer.close", close)
    runner.schedule("close:1", "consumer.close", {"session_id": "0x1"})
    runner.schedule("close:2", "consumer.close", {"session_id": "0x2"})
    await runner.run_due()
    waiting = runner.waiting_for_unlock()
    assert [j.key for j in waiting] == ["close:1", "close:2"]
    assert all(j.state is JobState.PENDING and j.failures == 0 for j in waiting)
    assert all(j.last_error == LOCKED_REASON for j in waiting)
    assert WaitingForUnlock(2, 123 * 10**17, 0).text == (
        "2 sessions need closing: unlock to get 12.3 MOR back"
    )

    with pytest.raises(WalletLocked):
        _ = signer.public_key_uncompressed

    wallet.unlock("correct horse 42!")
    runner.wallet_unlocked()
    await runner.run_due()
    assert all(runner.store.get(k).state is JobState.DONE  # type: ignore[union-attr]
               for k in ("close:1", "close:2"))


def test_one_process_per_data_folder_runs_jobs_and_a_second_says_who(tmp_path: Path) -> None:
    code = (
        "import sys, time; from pathlib import Path;"
        "from app.services.supervisor import DataDirLock;"
        "l = DataDirLock(Path(sys.argv[1]), '`morpheus jobs run`'); l.acquire();"
        "print('locked', flush=True); time.sleep(60)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], env=env,
                              stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
        with pytest.raises(JobsRunElsewhere) as err:
            DataDirLock(tmp_path, "Morpheus Desktop").acquire()
        assert "`morpheus jobs run`" in err.value.message and str(holder.pid) in err.value.message
    finally:
        holder.kill()  # kill -9: the OS releases the lock with the process
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    lock = DataDirLock(tmp_path, "Morpheus Desktop")
    lock.acquire()
    assert DataDirLock.holder(tmp_path)["pid"] == os.getpid()
    lock.release()


def test_wallet_password_leaves_the_environment_and_never_reaches_a_child(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.commands.jobs import PASSWORD_ENV, take_env_password

    monkeypatch.setenv(PASSWORD_ENV, "correct horse battery staple")
    assert take_env_password() == "correct horse battery staple"
    assert PASSWORD_ENV not in os.environ
    code = f"import os; print(os.environ.get('{PASSWORD_ENV}'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "None"


def test_clock_minutes_off_is_reported_on_real_networks_only() -> None:
    from app.services.settlement import clock_skew_text

    assert clock_skew_text(1_000_360.0, 1_000_000, "base") == (
        " (about 6 minutes ahead of the network)"
    )
    assert clock_skew_text(999_640.0, 1_000_000, "base").endswith("behind the network)")
    assert clock_skew_text(1_000_030.0, 1_000_000, "base") == ""  # within normal drift
    assert clock_skew_text(1_000_360.0, 1_000_000, "devnet") == ""  # time travel is on purpose


async def test_a_time_jump_while_a_job_decides_not_yet_makes_it_check_again(
    tmp_path: Path,
) -> None:
    """The chain jumps past midnight while the withdraw job is reading the old chain time: its
    "not yet, in an hour" is stale, so it runs again at once instead of waiting an hour."""
    clock = Clock()
    runner = TaskRunner(JobStore(tmp_path / "j.sqlite3"), clock=clock)

    async def withdraw(job: Job, r: TaskRunner) -> RetryAt:
        r.poke_all()  # the chain watch, concurrently, sees the jump
        return RetryAt(clock.now + 3600, "held until the next UTC midnight")

    runner.register("consumer.withdraw", withdraw)
    runner.schedule("w", "consumer.withdraw", {})
    await runner.run_due()
    job = runner.store.get("w")
    assert job is not None and job.state is JobState.PENDING and job.run_at <= clock.now
