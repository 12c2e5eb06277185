"""Runs the jobs of ``app.storage.jobs`` in the background, under the GUI or the headless CLI.

Handlers must be idempotent: they are re-run after a crash, so each first looks at the chain to
see whether its work already happened (a session already closed, nothing left to withdraw).

Three kinds of "not now", kept apart so that money work is never given up by mistake:
``RetryAt`` ("not yet": a session not ended, stake held until midnight, a tx still pending) is not
a failure and never counts as an attempt; a transient error backs off (capped) and counts; a job
that needs a signature while the wallet is locked waits for the unlock and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from app.chain.tx import TxManager, TxReceipt
from app.errors import UserFacingError
from app.storage.jobs import DAMAGED, Job, JobState, JobStore
from app.wallet.locking import WalletLocked

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Done:
    result: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RetryAt:
    """Not yet: run again at ``when`` (for example when a held stake is released)."""

    when: float
    reason: str = ""


@dataclass(frozen=True)
class Failed:
    error: str


Outcome = Done | RetryAt | Failed
Handler = Callable[[Job, "TaskRunner"], Awaitable[Outcome]]

MAX_ATTEMPTS = 8
MAX_BACKOFF_S = 600.0
LOCKED_REASON = "waiting for the wallet to be unlocked"
LOCKED_RECHECK_S = 300.0


class PermanentError(UserFacingError):
    """Retrying will not help (for example the session belongs to another wallet)."""


def is_wallet_locked(exc: BaseException) -> bool:
    """The wallet refused to sign because it is locked: the job waits instead of failing."""
    return isinstance(exc, WalletLocked)


def backoff_s(attempts: int) -> float:
    return min(MAX_BACKOFF_S, 2.0 ** max(1, attempts))


async def recorded_txs(tx: TxManager, job: Job) -> tuple[str, list[TxReceipt]]:
    """Ask the chain about every hash the job recorded, before anything else is decided.

    Returns ("pending", mined) while any of them is still held by the node (wait: it may mine),
    else ("settled", mined) with the receipts of those mined (the others were dropped: safe to
    send again). A node that cannot be reached raises: silence is never taken for "dropped"."""
    mined: list[TxReceipt] = []
    pending = False
    for h in job.tx_hashes:
        state, receipt = await tx.tx_state(h)
        if receipt is not None:
            mined.append(receipt)
        pending = pending or state == "pending"
        if state == "dropped":
            tx.forget_nonces()  # whatever nonce it had may be free again
    return ("pending" if pending else "settled"), mined


PENDING_RECHECK_S = 5.0


def wait_for_pending(clock: Callable[[], float], what: str) -> RetryAt:
    return RetryAt(clock() + PENDING_RECHECK_S,
                   f"{what} transaction was sent; waiting for it to be mined")


class TaskRunner:
    def __init__(self, store: JobStore, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self._handlers: dict[str, Handler] = {}
        self._wake = asyncio.Event()
        self._listeners: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._busy = asyncio.Lock()
        self._pokes = 0

    def register(self, kind: str, handler: Handler) -> None:
        self._handlers[kind] = handler

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            try:
                listener()
            except Exception:  # a broken listener must not stop money from moving
                log.exception("job listener failed")

    def schedule(
        self, key: str, kind: str, payload: dict[str, Any], *, run_at: float | None = None,
        title: str = "",
        rearm: bool = False,
    ) -> Job:
        """Add the job unless its key exists; ``rearm``: a finished one with this key runs again
        (its handler asks the chain, so a second run only does what is still owed)."""
        job = self.store.schedule(
            key, kind, payload, run_at=self.clock() if run_at is None else run_at, title=title
        )
        if rearm and job.state is JobState.DONE:
            self.store.retry_now(key, self.clock())
        self._changed()
        self.wake()
        return job

    def retry(self, key: str) -> None:
        self.store.retry_now(key, self.clock())
        self._changed()
        self.wake()

    def poke_all(self) -> None:
        """Re-check every waiting job now: chain time jumped (devnet time travel, or the machine
        slept), so wall-clock run times computed earlier may be too late."""
        now = self.clock()
        self._pokes += 1  # a job running right now re-checks too (see _run_one)
        for job in self.store.open_jobs():
            if job.state is JobState.PENDING and job.run_at > now:
                self.store.retry_later(job.key, now, job.last_error)
        self._changed()
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    async def run_due(self) -> int:
        """Run every job whose time has come; returns how many ran."""
        async with self._busy:
            ran = 0
            for job in self.store.due(self.clock()):
                if job.kind in self._handlers:
                    await self._run_one(job)
                    ran += 1
            return ran

    async def _run_one(self, job: Job) -> None:
        handler = self._handlers.get(job.kind)
        if handler is None:
            return  # another process (or a later version) owns this kind
        if DAMAGED in job.payload:
            self.store.fail(job.key, "This job's saved details are damaged, so it cannot run. "
                            "Your sessions and held stake are also looked up on the network, so "
                            "nothing is lost with it.", permanent=True)
            self._changed()
            return
        self.store.mark_running(job.key)
        self._changed()
        pokes = self._pokes
        try:
            outcome = await handler(job, self)
        except PermanentError as exc:
            self.store.fail(job.key, exc.message, permanent=True)
            self._changed()
            return
        except asyncio.CancelledError:
            self.store.retry_later(job.key, self.clock(), "interrupted")
            raise
        except Exception as exc:
            if is_wallet_locked(exc):
                # Not a failure: it runs as soon as the wallet is unlocked (see ``wake``).
                outcome = RetryAt(self.clock() + LOCKED_RECHECK_S, LOCKED_REASON)
            else:
                attempts = job.failures + 1
                msg = (exc.message if isinstance(exc, UserFacingError)
                       else f"{type(exc).__name__}: {exc}")
                log.warning("job %s failed (attempt %d): %s", job.key, attempts, msg)
                if attempts >= MAX_ATTEMPTS:
                    self.store.fail(job.key, msg)
                else:
                    self.store.failed_attempt(job.key, self.clock() + backoff_s(attempts), msg)
                self._changed()
                return
        if isinstance(outcome, Done):
            self.store.done(job.key, outcome.result)
        elif isinstance(outcome, RetryAt):
            # Chain time jumped while it was deciding "not yet": its answer may be stale.
            when = outcome.when if pokes == self._pokes else min(outcome.when, self.clock())
            self.store.retry_later(job.key, when, outcome.reason)
        else:
            self.store.fail(job.key, outcome.error)
        self._changed()

    def waiting_for_unlock(self) -> list[Job]:
        """Jobs that wait for a signature (the window and tray say how many, and for what)."""
        return [j for j in self.store.open_jobs() if j.last_error == LOCKED_REASON]

    def wallet_unlocked(self) -> None:
        """Run every job that was waiting for a signature now."""
        now = self.clock()
        for job in self.waiting_for_unlock():
            self.store.retry_later(job.key, now, "")
        self._changed()
        self.wake()

    def next_run_at(self) -> float | None:
        """When the next job this runner can handle is due (rows of other kinds are skipped)."""
        return min((j.run_at for j in self.store.open_jobs()
                    if j.state is JobState.PENDING and j.kind in self._handlers), default=None)

    async def run_forever(self, max_sleep: float = 30.0) -> None:
        recovered = self.store.recover_after_crash()
        if recovered:
            log.info("re-queued %d jobs left running by a previous process", recovered)
        while True:
            await self.run_due()
            nxt = self.next_run_at()
            delay = max_sleep if nxt is None else max(0.0, min(max_sleep, nxt - self.clock()))
            self._wake.clear()
            # Awaited in this task, not wrapped in another (``wait_for``): a stop or a closing
            # loop then never leaves an ``Event.wait`` coroutine that was never started.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self.run_forever())

    async def stop(self) -> None:
        """Stop the loop; one that had already died of an error is logged, not raised, so the
        caller goes on closing everything else."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("the job runner had stopped on an error")
