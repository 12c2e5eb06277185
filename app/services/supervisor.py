"""The one job supervisor: it runs every money job (close at end, withdraw held stake, claim
earnings, finish an interrupted open) for the active network and account, from launch to quit.

Why one: money must never depend on which page was opened or which command was run. The GUI
starts it at launch; ``morpheus jobs run`` and ``morpheus provider serve`` run it headless. One
process per data folder runs jobs (a lock file says which, and a second one is told who holds it).
The chain is the source of truth: at start and every few minutes it reconciles the local records
with the contract (a session recorded closed but open on chain is closed again; held stake gets a
withdraw job), and when chain time jumps (devnet time travel, a machine waking from sleep) every
waiting job is re-checked at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from eth_utils import to_checksum_address

from app.errors import UserFacingError
from app.services.consumer_service import ConsumerService
from app.services.node_identity import WalletNodeKey
from app.services.provider_service import ProviderService
from app.services.runtime import Runtime
from app.services.settlement import clock_skew_text
from app.services.tasks import LOCKED_REASON, TaskRunner
from app.storage.jobs import JobState

log = logging.getLogger(__name__)

RECONCILE_EVERY_S = 600.0
CONFIRM_EVERY_S = 10.0  # how often recently finished jobs are checked against the chain
CONFIRM_WINDOW_S = 900.0  # ...for jobs finished this recently
WATCH_INTERVAL_S = 2.0
TIME_JUMP_S = 30.0
LOCK_NAME = "jobs.lock"


class JobsRunElsewhere(UserFacingError):
    """Another process already runs the background payments of this data folder."""


class DataDirLock:
    """An exclusive ``flock`` on ``<data>/jobs.lock``; the OS drops it when the process dies (even
    with kill -9), so a stale file never blocks the next start."""

    def __init__(self, data_dir: Path, who: str) -> None:
        self.path = data_dir / LOCK_NAME
        self.who = who
        self._fh: IO[str] | None = None

    @staticmethod
    def holder(data_dir: Path) -> dict[str, Any]:
        try:
            data = json.loads((data_dir / LOCK_NAME).read_text() or "{}")
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def acquire(self) -> None:
        if self._fh is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fh = os.fdopen(fd, "r+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            h = self.holder(self.path.parent)
            since = time.strftime("%H:%M", time.localtime(float(h.get("since", 0) or 0)))
            raise JobsRunElsewhere(
                f"Background payments for this data folder are already run by "
                f"{h.get('who', 'another Morpheus process')} (process {h.get('pid', '?')}, "
                f"since {since}). Stop that one first, or let it finish the work.",
                detail=str(self.path),
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(json.dumps({"pid": os.getpid(), "who": self.who, "since": time.time()}))
        fh.flush()
        self._fh = fh

    def release(self) -> None:
        if self._fh is None:
            return
        with contextlib.suppress(OSError):
            self._fh.seek(0)
            self._fh.truncate()
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
        self._fh.close()
        self._fh = None


@dataclass(frozen=True)
class WaitingForUnlock:
    """What the locked wallet holds up: shown in the window and as a tray notification."""

    sessions: int  # close jobs that need a signature
    mor: int  # wei that comes back once they run (stakes, plus held stake to withdraw)
    other: int  # other jobs (withdraw, claim) waiting for a signature

    @property
    def text(self) -> str:
        if not self.sessions and not self.other:
            return ""
        amount = f"{self.mor / 10**18:.4g} MOR"
        if self.sessions:
            s = "session needs" if self.sessions == 1 else "sessions need"
            return f"{self.sessions} {s} closing: unlock to get {amount} back"
        return f"{self.other} payment(s) wait for your signature: unlock to get {amount} back"


class JobSupervisor:
    def __init__(self, runtime: Runtime, signer: Any, *, who: str = "Morpheus Desktop",
                 reconcile_every: float = RECONCILE_EVERY_S,
                 watch_interval: float = WATCH_INTERVAL_S,
                 confirm_every: float = CONFIRM_EVERY_S) -> None:
        self.runtime = runtime
        self.signer = signer
        self.who = who
        self.reconcile_every = reconcile_every
        self.watch_interval = watch_interval
        self.confirm_every = confirm_every
        self._last_confirm = 0.0
        self.lock = DataDirLock(runtime.paths.data, who)
        self.runner: TaskRunner | None = None
        self.consumer: ConsumerService | None = None
        self.claims: ProviderService | None = None
        self.notice = ""  # a plain message for the user (a repaired job store, ...)
        self.clock_notice = ""  # set while this computer's clock is minutes off the network's
        self._task: asyncio.Task[None] | None = None
        self._offset: float | None = None
        self._last_reconcile = 0.0

    @property
    def address(self) -> str:
        return to_checksum_address(self.signer.address)

    async def start(self) -> TaskRunner:
        """Take the data folder's lock, build the services, reconcile with the chain, and run."""
        self.lock.acquire()
        try:
            chain = await self.runtime.chain()
            cid = chain.network.chain_id
            self.runner = self.runtime.runner(cid, self.address)
            sessions = self.runtime.sessions(cid, self.address)
            key = WalletNodeKey(self.signer)
            self.consumer = ConsumerService(chain, self.signer, key, self.runner, sessions)
            # Claims need no engine: only the chain and a signature.
            self.claims = ProviderService(chain, self.signer, key, None,  # type: ignore[arg-type]
                                          self.runner, sessions, model_name="")
            self.notice = self.runner.store.notice
            await self.reconcile()
        except BaseException:  # a failure, or cancelled (the window closing): free the folder
            self.lock.release()
            raise
        self.runner.start()
        self._task = asyncio.ensure_future(self._watch())
        return self.runner

    async def reconcile(self) -> bool:
        """Make the local records agree with the chain (never the other way round). False when
        the chain could not be read (the watch tries again soon)."""
        self._last_reconcile = time.monotonic()
        if self.consumer is None or self.runner is None:
            return False
        try:
            await self.consumer.reconcile()
            if self.claims is not None:  # every session of ours the chain still owes us
                await self.claims.claims.schedule_claims()
            self.runner.store.backup()
        except UserFacingError as exc:
            log.warning("reconcile with the chain failed: %s", exc.detail or exc.message)
            return False
        except Exception as exc:  # a node answering garbage mid-restart; try again soon
            log.warning("reconcile with the chain failed: %s: %s", type(exc).__name__, exc)
            return False
        return True

    async def _watch(self) -> None:
        assert self.consumer is not None and self.runner is not None
        chain = self.consumer.chain
        block = -1
        recheck = False
        while True:
            try:
                now_block = await chain.block_number()
                if now_block < block:
                    # The chain went back (a reorg, a node restored from an older state): what
                    # was recorded as done may be undone. Ask the chain again at once.
                    log.warning("chain height went back from %d to %d", block, now_block)
                    chain.tx.forget_nonces()
                    recheck = True
                if recheck:
                    recheck = not await self.reconcile()
                    self.runner.poke_all()
                if now_block != block:
                    block = now_block
                    chain_now = await chain.latest_timestamp()
                    offset = chain_now - time.time()
                    skew = clock_skew_text(time.time(), chain_now, chain.network.key)
                    self.clock_notice = (
                        f"Your computer's clock is off{skew}. Set it right (automatic time): "
                        "providers refuse signed requests from a clock minutes off." if skew
                        else "")
                    if self._offset is not None and abs(offset - self._offset) > TIME_JUMP_S:
                        self.runner.poke_all()
                    self._offset = offset
                if time.monotonic() - self._last_confirm >= self.confirm_every:
                    self._last_confirm = time.monotonic()
                    if await self._recent_tx_lost():
                        log.warning("a recently mined transaction is gone from the chain")
                        chain.tx.forget_nonces()
                        recheck = not await self.reconcile()
                        self.runner.poke_all()
                if time.monotonic() - self._last_reconcile >= self.reconcile_every:
                    await self.reconcile()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the watch must outlive any node hiccup
                log.info("chain watch: %s", exc)
                # The node was unreachable: it may come back restored from an older state (or
                # be another node): ask the chain about everything once it answers again.
                recheck = True
            await asyncio.sleep(self.watch_interval)

    async def _recent_tx_lost(self) -> bool:
        """True when a job finished in the last minutes has none of its transactions on chain
        any more (a node restored from an older state, a deep reorg): what it did is undone."""
        assert self.runner is not None and self.consumer is not None
        horizon = time.time() - CONFIRM_WINDOW_S
        for job in self.runner.store.all(50):
            if job.state is not JobState.DONE or not job.tx_hashes or job.updated_at < horizon:
                continue
            receipts = [await self.consumer.chain.tx.receipt(h) for h in job.tx_hashes]
            if not any(receipts):
                return True
        return False

    def wallet_unlocked(self) -> None:
        if self.runner is not None:
            self.runner.wallet_unlocked()

    def waiting_for_unlock(self) -> WaitingForUnlock:
        if self.runner is None or self.consumer is None:
            return WaitingForUnlock(0, 0, 0)
        sessions = other = mor = 0
        for job in self.runner.store.open_jobs():
            if job.last_error != LOCKED_REASON:
                continue
            if job.kind == "consumer.close":
                sessions += 1
                rec = self.consumer.sessions.get(job.payload.get("session_id", ""), "consumer")
                mor += rec.stake if rec else 0
            else:
                other += 1
                if job.kind == "consumer.withdraw":
                    mor += sum(r.on_hold for r in self.consumer.sessions.list("consumer"))
        return WaitingForUnlock(sessions, mor, other)

    def open_sessions(self) -> list[Any]:
        """Consumer sessions still open (for the quit dialog)."""
        if self.consumer is None:
            return []
        return [r for r in self.consumer.sessions.list("consumer") if r.status != "closed"]

    async def stop(self) -> None:
        try:
            if self._task is not None:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
                self._task = None
            if self.runner is not None:
                await self.runner.stop()
        finally:  # whatever failed above, the data folder is free again
            self.lock.release()
