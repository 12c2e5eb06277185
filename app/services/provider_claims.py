"""Provider earnings collected from the chain: one ``provider.claim`` job per session served with
our bids, run by the job supervisor.

Why it is computed this way: the contract pays a provider at most its stake per 365-day period
(spec §3.11) and ``claimForProvider`` returns silently when the capped amount is 0, so a claim sent
without that check spends gas for nothing. Each job therefore asks the chain for the session, the
bid's price and the reward limit, works out exactly what the contract would transfer, and only
sends when that is more than 0. Held-back earnings wait (not a failure) until the period ends, and
a job whose session still has something owed is re-opened from the chain, never from the job's
own finished state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from eth_utils import to_checksum_address

from app.chain.client import ChainClient
from app.chain.provider_limits import (
    EarningsState,
    SessionDue,
    read_earnings,
    read_reward_limit,
)
from app.chain.tx import SentTx
from app.market.types import id_hex
from app.services.provider_cap import CapStatus
from app.services.tasks import Done, RetryAt, TaskRunner, recorded_txs, wait_for_pending
from app.storage.jobs import Job, JobState
from app.storage.sessions import SessionRecord, SessionStore
from app.wallet.signer import Signer

log = logging.getLogger(__name__)

KIND = "provider.claim"
TITLE = "Claim provider earnings"
AUTO_CLAIM_OFF_RECHECK_S = 3600.0


def claim_key(session_id: str) -> str:
    return f"claim:{id_hex(session_id)}"


def _mor(wei: int) -> str:
    return f"{wei / 10**18:.6g} MOR"


def _date(t: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t))


class ProviderClaims:
    def __init__(self, chain: ChainClient, signer: Signer, runner: TaskRunner, *,
                 auto_claim: Callable[[], bool] = lambda: True) -> None:
        self.chain = chain
        self.signer = signer
        self.runner = runner
        self.auto_claim = auto_claim
        self.me = to_checksum_address(signer.address)
        runner.register(KIND, self.claim_job)

    async def state(self) -> EarningsState:
        return await read_earnings(self.chain, self.me)

    async def schedule_claims(self, state: EarningsState | None = None, *,
                              reopen_failed: bool = True) -> int:
        """A claim job for every session of ours the chain still owes (or will owe) us, prompted
        or not; a finished job is re-opened when the chain says something is owed again, and a
        failed one too unless ``reopen_failed`` is False (the frequent cap check leaves those to
        the supervisor's reconcile). Returns how many jobs were added or re-opened."""
        st = state or await self.state()
        changed = 0
        for due in st.sessions:
            if due.session.ends_at > st.limit.now or due.unpaid(st.limit.now) > 0:
                changed += self._ensure_job(due, reopen_failed)
        return changed

    def _ensure_job(self, due: SessionDue, reopen_failed: bool) -> int:
        key = claim_key(due.id)
        job = self.runner.store.get(key)
        if job is None:
            self.runner.schedule(key, KIND, {"session_id": due.id}, title=TITLE)
            return 1
        if job.state is JobState.DONE or (reopen_failed and job.state is JobState.FAILED):
            self.runner.retry(key)
            return 1
        return 0

    def claimed_by_jobs(self) -> int:
        """What our own claim transactions collected (the rest was paid at each close)."""
        return sum(int(j.payload.get("claimed", j.result.get("claimed", 0)) or 0)
                   for j in self.runner.store.all() if j.kind == KIND)

    async def claim_job(self, job: Job, runner: TaskRunner) -> Done | RetryAt:
        """Collect what the contract owes for one session, never sending a claim that pays 0."""
        sid = job.payload["session_id"]
        if (await recorded_txs(self.chain.tx, job))[0] == "pending":
            return wait_for_pending(runner.clock, "The claim")
        claimed = int(job.payload.get("claimed", 0) or 0)
        s = await self.chain.get_session(sid)
        if not s.exists:
            return Done({"claimed": str(claimed), "note": "no such session on this network"})
        bid = await self.chain.get_bid(s.bid_id)
        due = SessionDue(s, bid.price_per_second)
        limit = await read_reward_limit(self.chain, self.me)
        now = limit.now
        if now < due.end:
            return RetryAt(runner.clock() + (due.end - now) + 5, "session still running")
        if due.unpaid(now) == 0:
            return Done({"claimed": str(claimed)})
        amount = due.claim_amount(now)
        if amount is None:
            wait = due.held_until_midnight() - now + 5
            return RetryAt(runner.clock() + wait, "earnings held until the next UTC midnight")
        pay = limit.pay(amount)
        if pay == 0:
            if amount == 0:  # nothing claimable yet (held for the day), not the cap
                wait = due.held_until_midnight() - now + 5
                return RetryAt(runner.clock() + max(wait, 60), "earnings held until midnight")
            return RetryAt(
                runner.clock() + (limit.until - now) + 5,
                f"earnings cap reached: {_mor(due.unpaid(now))} held back until "
                f"{_date(limit.until)} (the stake caps what the contract pays per year)",
            )
        if not self.auto_claim():
            return RetryAt(runner.clock() + AUTO_CLAIM_OFF_RECHECK_S, "auto-claim is off")

        async def sent(tx: SentTx) -> None:  # recorded before the broadcast
            runner.store.add_tx(job.key, tx.tx_hash)

        r = await self.chain.claim_for_provider(self.signer, sid, on_sent=sent)
        after = await self.chain.get_session(sid)
        got = after.provider_withdrawn_amount - s.provider_withdrawn_amount
        claimed += got
        runner.store.update_payload(job.key, claimed=str(claimed))
        log.info("claimed %d wei for session %s", got, sid)
        rest = SessionDue(after, bid.price_per_second).unpaid(now)
        if rest > 0:  # the cap cut this claim short: the rest waits for the next period
            limit = await read_reward_limit(self.chain, self.me)
            return RetryAt(runner.clock() + (limit.until - limit.now) + 5,
                           f"earnings cap reached: {_mor(rest)} held back until "
                           f"{_date(limit.until)}")
        return Done({"claimed": str(claimed), "tx": r.tx_hash})


@dataclass(frozen=True)
class Served:
    earnings: EarningsState
    cap: CapStatus
    active_bids: int


async def reconcile_served(chain: ChainClient, store: SessionStore, provider: str) -> Served | None:
    """Make the local records of sessions served with our bids agree with the chain: closed shows
    closed, with the user's stake and what the session paid us. None when we never served."""
    st = await read_earnings(chain, provider)
    if not st.sessions and st.limit.stake == 0:
        return None
    me = to_checksum_address(provider)
    for due in st.sessions:
        s = due.session
        rec = store.get(s.id, "provider")
        status = ("disputed" if s.closed_at and s.disputed else "closed" if s.closed_at
                  else "expired" if st.limit.now >= s.ends_at else "open")
        store.upsert(SessionRecord(
            session_id=s.id, role="provider", user=s.user, provider=me, bid_id=id_hex(s.bid_id),
            model_id=rec.model_id if rec else "", price_per_second=due.price, stake=s.stake,
            opened_at=s.opened_at, ends_at=s.ends_at, closed_at=s.closed_at,
            spent=s.provider_withdrawn_amount, prompts=rec.prompts if rec else 0,
            tokens=rec.tokens if rec else 0, status=status,
        ))
    bids = len(await chain.provider_active_bid_ids(me))
    # A provider with no active bid and the cap reached had it withdrawn (by us or by hand).
    return Served(st, CapStatus.of(st, bid_withdrawn=bids == 0), bids)
