"""Consumer mode: price a session, open it, chat through it, close it, and get every wei back.

Every step that moves MOR is a job in the job store, written before its transaction is sent, so
that a crash or ``kill -9`` at any point is picked up again: a session opened just before a crash is
found (from the recorded tx hash or from ``getUserSessions``) and closed at its end; stake held
after an early close is withdrawn once the next UTC midnight has passed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address

from app.chain import abi
from app.chain.client import ChainClient
from app.chain.delegation import checker_for
from app.chain.errors import ChainError, RpcUnavailable, TransactionTimeout
from app.chain.tx import SentTx, TxReceipt
from app.errors import UserFacingError
from app.market.economics import DAY, stake_with_margin, start_of_day
from app.market.rating import RatedBid, rate_bids
from app.market.types import Bid, Model, id_bytes, id_hex
from app.p2p.consumer_client import ProviderClient, self_signed_receipt
from app.p2p.keys import NodeKey
from app.p2p.remote_engine import RemoteSessionEngine
from app.services.settlement import (
    ClockOff,
    clock_skew_text,
    opened_session,
    simulate_with_allowance,
    transfers_to,
)
from app.services.tasks import (
    Done,
    PermanentError,
    RetryAt,
    TaskRunner,
    is_wallet_locked,
    recorded_txs,
    wait_for_pending,
)
from app.storage.jobs import Job
from app.storage.sessions import SessionRecord, SessionStore
from app.wallet.signer import Signer

log = logging.getLogger(__name__)

MIN_SESSION_S = 300


@dataclass(frozen=True)
class StakeQuote:
    """What opening a session for ``duration_s`` costs and what comes back when."""

    bid_id: str
    price_per_second: int
    duration_s: int  # what the contract will actually grant for ``stake``
    stake: int
    cost_if_used_fully: int  # paid to the provider out of the compute pool, not from the stake
    balance: int
    shortfall: int  # MOR missing from the wallet (0 if enough)
    now: int  # chain time the quote was made at
    next_midnight: int  # when stake held after an early close is released

    @property
    def affordable(self) -> bool:
        return self.shortfall == 0


@dataclass(frozen=True)
class OpenedSession:
    record: SessionRecord
    engine: RemoteSessionEngine


class NoProviderAvailable(UserFacingError):
    pass


class OpenStillPending(UserFacingError):
    """The open was sent but its receipt did not come back in time: it may still mine, and the
    background jobs watch it (and close the session at its end if it does)."""


StepCallback = Callable[[str], None]


def _noop(_: str) -> None:
    return None


class ConsumerService:
    def __init__(
        self,
        chain: ChainClient,
        signer: Signer,
        node_key: NodeKey,
        runner: TaskRunner,
        sessions: SessionStore,
    ) -> None:
        self.chain = chain
        self.signer = signer
        self.node_key = node_key
        self.runner = runner
        self.sessions = sessions
        self.user = to_checksum_address(signer.address)
        self._clients: dict[str, ProviderClient] = {}
        runner.register("consumer.open", self._recover_open)
        runner.register("consumer.close", self._close_job)
        runner.register("consumer.withdraw", self._withdraw_job)

    @property
    def chain_id(self) -> int:
        return int(self.chain.network.chain_id)

    # -- pricing -----------------------------------------------------------------------------

    async def quote(self, bid: Bid, duration_s: int) -> StakeQuote:
        """Stake for ``duration_s`` at the bid's price, sized with the contract's own views."""
        if duration_s < MIN_SESSION_S:
            raise UserFacingError("A session must last at least 5 minutes.")
        max_d = await self.chain.max_session_duration()
        duration_s = min(duration_s, max_d)
        now = await self.chain.latest_timestamp()
        supply = await self.chain.total_mor_supply(now)
        budget = await self.chain.todays_budget(now)
        if budget == 0:
            raise UserFacingError(
                "The network's compute budget for today is empty, so no session can be opened."
            )
        price = bid.price_per_second
        stake = stake_with_margin(supply=supply, budget=budget, price=price, seconds=duration_s)
        end = await self.chain.session_end(stake, price, now)
        balance = await self.chain.mor_balance(self.user)
        return StakeQuote(
            bid_id=bid.id, price_per_second=price, duration_s=end - now, stake=stake,
            cost_if_used_fully=price * (end - now), balance=balance,
            shortfall=max(0, stake - balance), now=now,
            next_midnight=start_of_day(now) + DAY,
        )

    # -- choosing a provider -----------------------------------------------------------------

    async def network_models(self) -> list[tuple[Model, list[RatedBid]]]:
        """Every active model with at least one bid from someone else, bids best first."""
        market = await self.chain.load_market()
        params = market.params or await self.chain.market_params()
        out: list[tuple[Model, list[RatedBid]]] = []
        for model in market.models:
            bids = [b for b in market.bids_for_model(model.id)
                    if b.provider.lower() != self.user.lower()]
            if not model.is_active or not bids:
                continue
            rated = rate_bids(
                bids,
                provider_stakes={a: p.stake for a, p in market.providers.items()},
                provider_model_stats=market.provider_model_stats,
                model_stats=market.model_stats,
                provider_min_stake=params.provider_min_stake,
            )
            out.append((model, rated))
        return out

    async def best_bids(self, model: str) -> list[RatedBid]:
        """Bids for a model given by id or by name, best first."""
        for m, rated in await self.network_models():
            if model.lower() in (m.id, m.name.lower()):
                return rated
        raise NoProviderAvailable(f"No provider currently offers the model {model!r}.")

    # -- opening -----------------------------------------------------------------------------

    def _client(
        self, endpoint: str, provider: str, provider_key: bytes | None = None
    ) -> ProviderClient:
        key = f"{endpoint}|{provider.lower()}"
        client = self._clients.get(key)
        if client is None:
            client = ProviderClient(endpoint, self.node_key, provider, chain_id=self.chain_id,
                                    provider_key=provider_key,
                                    delegate_check=checker_for(self.chain))
            self._clients[key] = client
        elif provider_key is not None:
            client.provider_key = provider_key
        return client

    async def open_session(
        self, bid_id: str, duration_s: int, *, on_step: StepCallback = _noop,
        on_tx: Callable[[SentTx], None] | None = None,
    ) -> OpenedSession:
        """Handshake with the provider, stake, open on chain, and start tracking the session."""
        bid = await self.chain.get_bid(bid_id)
        if not bid.is_active:
            raise UserFacingError("This offer is no longer available; pick another provider.")
        provider = await self.chain.get_provider(bid.provider)
        if not provider.is_active:
            raise UserFacingError("This provider has left the network; pick another one.")
        on_step("Pricing the session")
        q = await self.quote(bid, duration_s)
        if q.shortfall:
            raise UserFacingError(
                f"You need {q.shortfall / 1e18:.4f} more MOR to open this session."
            )
        on_step("Asking the provider for an approval")
        client = self._client(provider.endpoint, bid.provider)
        approval = await client.request_session(id_bytes(bid.id), q.stake)
        key = "open:" + approval.approval.hex()[-40:] + ":" + bid.id[-16:]
        self.runner.store.schedule(
            key, "consumer.open",
            {
                "bid_id": bid.id, "provider": bid.provider, "endpoint": provider.endpoint,
                "provider_key": approval.provider_key.hex(), "stake": str(q.stake),
                "model_id": bid.model_id, "price": str(bid.price_per_second),
                "approval": approval.approval.hex(),
            },
            title=f"Open session ({q.stake / 1e18:.2f} MOR)",
        )
        self.runner.store.mark_running(key)

        async def sent(tx: SentTx) -> None:
            self.runner.store.add_tx(key, tx.tx_hash)
            if on_tx is not None:
                on_tx(tx)

        try:
            # A revert (a stale approval, a bid just deleted) is found before any approve.
            await simulate_with_allowance(self.chain, self.user, abi.DIAMOND["openSession"].encode(
                self.user, q.stake, False, approval.approval, approval.approval_sig), q.stake)
            on_step("Approving and staking MOR")
            session_id, rec = await self.chain.open_session(
                self.signer, q.stake, approval.approval, approval.approval_sig, on_sent=sent
            )
        except (TransactionTimeout, RpcUnavailable) as exc:
            job = self.runner.store.get(key)
            if job is None or not job.tx_hashes:
                self.runner.store.fail(key, exc.message)
                raise
            # Sent, fate unknown: never "failed" while it can still mine. The runner asks the
            # chain about the hash until it is mined (then tracked and closed) or dropped.
            self.runner.store.retry_later(key, time.time() + 5, "open sent; waiting for the "
                                          "network to confirm it")
            self.runner.wake()
            raise OpenStillPending(
                "The network has not confirmed the session yet. It is being tracked: if it "
                "opens, it is closed at its end and your stake comes back.",
                detail=exc.detail,
            ) from exc
        except ChainError as exc:
            self.runner.store.fail(key, exc.message, permanent=True)
            raise
        except BaseException:
            self._hand_to_runner(key, "open interrupted; asking the network what happened")
            raise
        try:
            record = await self._track_opened(session_id, self.runner.store.get(key),
                                              rec.tx_hash)
        except BaseException:
            # Mined, but reading it back failed: the runner finishes it from the receipt.
            self._hand_to_runner(key, "opened; reading the session back from the network")
            raise
        self.runner.store.done(key, {"session_id": session_id, "tx": rec.tx_hash})
        on_step("Session open")
        engine = RemoteSessionEngine(client, id_bytes(session_id), model_name=bid.model_id,
                                     bid_id=id_bytes(bid.id))
        return OpenedSession(record, engine)

    def _hand_to_runner(self, key: str, why: str) -> None:
        """Never leave an open job RUNNING in a live process: the runner picks it up."""
        self.runner.store.retry_later(key, time.time() + 5, why)
        self.runner.wake()

    async def _track_opened(self, session_id: str, job: Job | None, tx_hash: str) -> SessionRecord:
        s = await self.chain.get_session(session_id)
        payload = job.payload if job else {}
        bid = await self.chain.get_bid(s.bid_id)
        provider = await self.chain.get_provider(bid.provider)
        record = SessionRecord(
            session_id=id_hex(session_id), role="consumer", user=self.user,
            provider=bid.provider, bid_id=s.bid_id, model_id=bid.model_id,
            endpoint=payload.get("endpoint", provider.endpoint),
            price_per_second=bid.price_per_second, stake=s.stake, opened_at=s.opened_at,
            ends_at=s.ends_at, closed_at=s.closed_at, open_tx=tx_hash,
            status="closed" if s.closed_at else "open",
        )
        existing = self.sessions.get(record.session_id, "consumer")
        if existing is None or existing.status == "open":
            self.sessions.upsert(record)
        self._schedule_close(record.session_id, s.ends_at, payload.get("provider_key", ""))
        return self.sessions.get(record.session_id, "consumer") or record

    def _schedule_close(self, session_id: str, ends_at: int, provider_key: str = "") -> None:
        key = f"close:{session_id}"
        job = self.runner.schedule(
            key, "consumer.close", {"session_id": session_id, "provider_key": provider_key},
            run_at=max(time.time(), ends_at), title="Close session at its end",
        )
        if job.state.value in ("done", "failed"):
            self.runner.retry(key)  # the chain says it is still open: close it again

    async def _recover_open(self, job: Job, runner: TaskRunner) -> Done | RetryAt:
        """After a crash (or a lost reply) mid-open: ask the chain about each recorded hash."""
        state, mined = await recorded_txs(self.chain.tx, job)
        for r in mined:
            session_id = opened_session(r)
            if session_id is not None:
                await self._track_opened(session_id, job, r.tx_hash)
                return Done({"session_id": session_id, "tx": r.tx_hash, "recovered": True})
        if state == "pending":
            return wait_for_pending(runner.clock, "The open")
        await self.reconcile()  # an open we never saw the hash of still shows up on chain
        return Done({"opened": False})

    # -- restarts ----------------------------------------------------------------------------

    async def reconcile(self) -> int:
        """Rebuild tracking from the chain: every unclosed session of ours gets a close job, and
        held stake gets a withdraw job. Returns how many sessions were newly tracked."""
        ids = await self.chain.user_session_ids(self.user)
        new = 0
        for s in await self.chain.get_sessions(ids) if ids else []:
            if s.closed_at:
                continue
            known = self.sessions.get(s.id, "consumer")
            if known is None:
                new += 1
                await self._track_opened(s.id, None, "")
                continue
            if known.status == "closed":
                # Recorded closed, open on chain (the close was rolled back, or never mined).
                log.warning("session %s is open on chain though recorded closed", s.id)
                self.sessions.update(s.id, "consumer", status="open", closed_at=0)
            self._schedule_close(s.id, s.ends_at)
        held = await self.chain.user_stakes_on_hold(self.user)
        if held.available or held.hold:
            now = await self.chain.latest_timestamp()
            self._schedule_withdraw(start_of_day(now) + DAY if held.hold else now)
        return new

    # -- closing -----------------------------------------------------------------------------

    async def close_session(
        self, session_id: str, *, on_step: StepCallback = _noop
    ) -> SessionRecord:
        """Close now (early): the unused stake comes back, today's share is held until midnight."""
        key = f"close:{id_hex(session_id)}"
        self.runner.store.schedule(
            key, "consumer.close",
            {"session_id": id_hex(session_id), "provider_key": ""}, title="Close session",
        )
        self.runner.store.update_payload(key, early=True)
        self.runner.store.retry_later(key, 0)
        on_step("Closing the session")
        await self.runner.run_due()
        job = self.runner.store.get(key)
        if job is None or job.state.value != "done":
            raise UserFacingError(
                "The session could not be closed yet; it will be retried automatically.",
                detail=job.last_error if job else "",
            )
        closed = self.sessions.get(session_id, "consumer")
        if closed is None:  # closed on chain, but this computer never tracked the session
            s = await self.chain.get_session(session_id)
            closed = SessionRecord(id_hex(session_id), "consumer", self.user, "", s.bid_id,
                                   stake=s.stake, opened_at=s.opened_at, ends_at=s.ends_at,
                                   closed_at=s.closed_at, status="closed")
        return closed

    async def _close_job(self, job: Job, runner: TaskRunner) -> Done | RetryAt:
        sid = job.payload["session_id"]
        state, mined = await recorded_txs(self.chain.tx, job)
        if state == "pending":
            return wait_for_pending(runner.clock, "The close")
        s = await self.chain.get_session(sid)
        if not s.exists:
            raise PermanentError("This session does not exist on this network.")
        if s.user.lower() != self.user.lower():
            raise PermanentError("This session belongs to another wallet.")
        if s.closed_at:
            ours = [r for r in mined if r.status == 1]
            return await self._settled(sid, s.closed_at, ours[-1] if ours else None)
        now = await self.chain.latest_timestamp()
        if not job.payload.get("early") and now < s.ends_at:
            return RetryAt(time.time() + (s.ends_at - now), "waiting for the session to end")
        bid = await self.chain.get_bid(s.bid_id)
        provider = await self.chain.get_provider(bid.provider)
        pkey = job.payload.get("provider_key") or ""
        try:
            client = self._client(provider.endpoint, bid.provider,
                                  bytes.fromhex(pkey) if pkey else None)
            receipt, sig = await client.report(id_bytes(sid))
            disputed = False
        except UserFacingError as exc:
            if is_wallet_locked(exc):
                raise  # wait for the unlock; never fall back to a disputed close for this
            if "timestamp" in f"{exc.message} {exc.detail}".lower():
                # Our clock, not the provider: a self-signed close would be a dispute that
                # holds back an honest provider's pay. Say so and retry instead.
                raise ClockOff(
                    "Your computer's clock is off"
                    + clock_skew_text(time.time(), now, self.chain.network.key)
                    + ", so the provider could not confirm the session's close. Set the clock "
                    "right (automatic time); the session is closed as soon as it is, and never "
                    "as a dispute.", detail=exc.message,
                ) from exc
            log.warning("provider receipt unavailable for %s: %s; closing with our own", sid, exc)
            receipt, sig = self_signed_receipt(self.node_key, id_bytes(sid), self.chain_id,
                                               timestamp=now)
            disputed = True

        async def sent(tx: SentTx) -> None:
            runner.store.add_tx(job.key, tx.tx_hash)
            self.sessions.update(sid, "consumer", status="closing", close_tx=tx.tx_hash)

        r = await self.chain.close_session(self.signer, receipt, sig, on_sent=sent)
        after = await self.chain.get_session(sid)
        done = await self._settled(sid, after.closed_at or now, r)
        return Done({**done.result, "disputed": disputed})

    async def _settled(self, sid: str, closed_at: int, close: TxReceipt | None) -> Done:
        """Record a close from what the chain says: the refund from the close receipt (when we
        have it), the held part from the contract, and a withdraw job for whatever it holds."""
        rec = self.sessions.get(sid, "consumer")
        after = await self.chain.get_session(sid)
        stake = rec.stake if rec and rec.stake else after.stake
        if close is not None:
            refund = transfers_to(close.logs, self.chain.token, self.chain.diamond, self.user)
        else:
            refund = rec.refunded if rec else 0
        early = closed_at < after.ends_at and not after.is_direct_payment
        held = max(0, stake - refund) if early and close is not None else 0
        release = start_of_day(closed_at) + DAY if early else 0
        self._mark_closed(sid, closed_at, (refund, held, release) if close else None,
                          close.tx_hash if close else "")
        on_hold = await self.chain.user_stakes_on_hold(self.user)
        if on_hold.hold or on_hold.available:
            now = await self.chain.latest_timestamp()
            self._schedule_withdraw(start_of_day(now) + DAY if on_hold.hold else now)
        return Done({"tx": close.tx_hash if close else "", "refund": str(refund),
                     "held": str(held), "already_closed": close is None})

    def _mark_closed(
        self, sid: str, closed_at: int, settled: tuple[int, int, int] | None, tx: str = ""
    ) -> None:
        changes: dict[str, Any] = {"status": "closed", "closed_at": closed_at}
        if settled is not None:
            changes.update(refunded=settled[0], on_hold=settled[1], on_hold_until=settled[2])
        if tx:
            changes["close_tx"] = tx
        if self.sessions.update(sid, "consumer", **changes) is None:
            self.sessions.upsert(SessionRecord(sid, "consumer", self.user, "", "", **changes))

    # -- held stake --------------------------------------------------------------------------

    def _schedule_withdraw(self, release_at: int) -> None:
        # rearm: one that ran already (say, before a rollback) must run for stake held now
        self.runner.schedule(
            f"withdraw:{self.user}:{release_at}", "consumer.withdraw",
            {"release_at": release_at}, run_at=time.time(), title="Withdraw held stake",
            rearm=True,
        )

    async def _withdraw_job(self, job: Job, runner: TaskRunner) -> Done | RetryAt:
        state, _ = await recorded_txs(self.chain.tx, job)
        if state == "pending":
            return wait_for_pending(runner.clock, "The withdrawal")
        held = await self.chain.user_stakes_on_hold(self.user)
        if held.available == 0:
            if held.hold == 0:
                return Done({"withdrawn": "0"})
            now = await self.chain.latest_timestamp()
            wait = max(5, int(job.payload.get("release_at", now)) - now)
            return RetryAt(time.time() + min(wait, 3600), "held until the next UTC midnight")

        async def sent(tx: SentTx) -> None:
            runner.store.add_tx(job.key, tx.tx_hash)

        r = await self.chain.withdraw_user_stakes(self.signer, on_sent=sent)
        got = transfers_to(r.logs, self.chain.token, self.chain.diamond, self.user)
        now = await self.chain.latest_timestamp()
        for rec in self.sessions.list("consumer"):
            if rec.on_hold and rec.on_hold_until and rec.on_hold_until <= now:
                self.sessions.update(
                    rec.session_id, "consumer", refunded=rec.refunded + rec.on_hold, on_hold=0
                )
        if held.hold:
            now = await self.chain.latest_timestamp()
            self._schedule_withdraw(start_of_day(now) + DAY)
        return Done({"withdrawn": str(got), "tx": r.tx_hash})

    async def held_stake(self) -> tuple[int, int]:
        """(withdrawable now, still held) for the "held stake" card."""
        h = await self.chain.user_stakes_on_hold(self.user)
        return h.available, h.hold
