"""Provider mode ("Share my GPU"): check, register, bid, serve, claim, and go offline again.

The flow is a small state machine with no Qt in it, so the GUI page, the headless
``morpheus provider serve`` and the tests all drive the same code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from eth_utils import keccak, to_checksum_address

from app.chain.abi import DIAMOND
from app.chain.client import ChainClient
from app.chain.ids import model_id as derive_model_id
from app.chain.tx import SentTx
from app.errors import UserFacingError
from app.inference.types import ChatEngine, ChatMessage, ChatRequest, CompletionDone, SamplingParams
from app.market.types import Bid, id_bytes, id_hex
from app.p2p.keys import NodeKey
from app.p2p.provider_server import (
    ApprovalIssued,
    PromptServed,
    ProviderConfig,
    ProviderEvent,
    ProviderServer,
    ReceiptIssued,
    SessionFailed,
)
from app.services.chain_lookup import ChainSessionLookup
from app.services.provider_cap import CHECK_EVERY_S, CapStatus, CapWatch
from app.services.provider_claims import KIND as CLAIM_KIND
from app.services.provider_claims import TITLE as CLAIM_TITLE
from app.services.provider_claims import ProviderClaims, claim_key
from app.services.provider_keys import UserKeyFile
from app.services.provider_plan import (  # noqa: F401  (re-exported for the pages)
    GAS_PER_SETUP_TX,
    SETUP_TXS,
    CheckItem,
    CheckStatus,
    ProviderPlan,
)
from app.services.provider_reach import ReachPlan
from app.services.settlement import simulate_with_allowance
from app.services.tasks import TaskRunner
from app.storage.sessions import SessionRecord, SessionStore
from app.wallet.signer import Signer

log = logging.getLogger(__name__)




class GoOnlineCancelled(UserFacingError):
    """The user declined the costs: nothing was sent."""


class ProviderState(StrEnum):
    OFF = "off"
    STARTING = "starting"
    WAITING = "waiting for users"
    SERVING = "serving"
    STOPPING = "stopping"
    ERROR = "error"


@dataclass
class ProviderDashboard:
    state: ProviderState = ProviderState.OFF
    error: str = ""
    step: str = ""
    endpoint: str = ""
    bid_id: str = ""
    model_id: str = ""
    started_at: float = 0.0
    sessions_served: int = 0
    active_sessions: set[str] = field(default_factory=set)
    prompts_served: int = 0
    sessions_failed: int = 0  # receipts refused because the model failed (closed as disputes)
    tokens_served: int = 0
    tokens_per_s: float = 0.0
    cap: CapStatus | None = None  # the earnings cap, read from the chain while online

    @property
    def uptime_s(self) -> float:
        return time.time() - self.started_at if self.started_at else 0.0


def base_model_id_for(name: str) -> bytes:
    """A stable base id per model name, so going online again reuses the same on-chain model."""
    return bytes(keccak(text=f"morpheus-desktop/model/{name}"))


class ProviderService:
    def __init__(
        self,
        chain: ChainClient,
        signer: Signer,
        node_key: NodeKey,
        engine: ChatEngine,
        runner: TaskRunner,
        sessions: SessionStore,
        *,
        model_name: str,
        host: str = "127.0.0.1",
        port: int = 0,
        public_endpoint: str | None = None,
        auto_claim: bool = True,
        state_dir: Path | None = None,
        provider_stake: int | None = None,
        keep_serving_free: bool = False,
        cap_check_s: float = CHECK_EVERY_S,
    ) -> None:
        self.chain = chain
        self.signer = signer
        self.node_key = node_key
        self.engine = engine
        self.runner = runner
        self.sessions = sessions
        self.model_name = model_name
        self.host = host
        self.port = port
        self.public_endpoint = public_endpoint
        self.upnp = False  # open the port on the router (UPnP IGD, then NAT-PMP)
        self.listen_consent = False  # the user agreed to listen on a non-loopback address
        self.reach = ReachPlan()
        self.auto_claim = auto_claim
        self.provider_stake = provider_stake  # the total stake wanted (None: the minimum)
        # tokens made within this long of the last chunk go out together (0: one per token)
        self.stream_interval_ms = ProviderConfig.stream_interval_ms
        self.keep_serving_free = keep_serving_free
        # Consumers' public keys (from their handshakes) survive a restart of the node, so open
        # sessions keep working: a public key is not a secret.
        self._keys = UserKeyFile(state_dir / "provider_user_keys.json" if state_dir else None)
        self.me = to_checksum_address(signer.address)
        self.dashboard = ProviderDashboard()
        self.server: ProviderServer | None = None
        self._listeners: list[Callable[[ProviderDashboard], None]] = []
        self._benchmark_tps: float | None = None
        self.claims = ProviderClaims(chain, signer, runner, auto_claim=lambda: self.auto_claim)
        self.cap_watch = CapWatch(self.claims, withdraw_bids=self._withdraw_for_cap,
                                  report=lambda c: self._changed(cap=c),
                                  keep_serving_free=lambda: self.keep_serving_free,
                                  every=cap_check_s)

    # -- observers ---------------------------------------------------------------------------

    def on_change(self, listener: Callable[[ProviderDashboard], None]) -> None:
        self._listeners.append(listener)

    def _changed(self, **updates: Any) -> None:
        for k, v in updates.items():
            setattr(self.dashboard, k, v)
        for listener in self._listeners:
            try:
                listener(self.dashboard)
            except Exception:
                log.exception("dashboard listener failed")

    # -- planning and checklist --------------------------------------------------------------

    async def suggested_price(self) -> int:
        """The median price of current bids on models with our model's name, else a low price
        inside the contract's allowed range."""
        lo, hi = await self.chain.price_range()
        market = await self.chain.load_market()
        names = {m.id: m.name for m in market.models}
        prices = [b.price_per_second for b in market.bids
                  if names.get(b.model_id) == self.model_name and b.provider != self.me]
        guess = int(statistics.median(prices)) if prices else lo * 10
        return max(lo, min(hi, guess))

    async def plan(
        self, price_per_second: int | None = None, stake: int | None = None
    ) -> ProviderPlan:
        """``stake`` is the total provider stake wanted (it caps yearly earnings); None keeps
        what is staked, topped up to the network's minimum."""
        params = await self.chain.market_params()
        stake = self.provider_stake if stake is None else stake
        if stake is not None and stake < params.provider_min_stake:
            raise UserFacingError(
                f"The provider stake must be at least {params.provider_min_stake / 1e18:g} MOR "
                "on this network."
            )
        provider = await self.chain.get_provider(self.me)
        mid = derive_model_id(self.me, base_model_id_for(self.model_name))
        model = await self.chain.get_model(mid)
        price = price_per_second or await self.suggested_price()
        if not params.min_price_per_second <= price <= params.max_price_per_second:
            raise UserFacingError(
                f"The price must be between {params.min_price_per_second} and "
                f"{params.max_price_per_second} wei per second on this network."
            )
        existing = None
        if provider.is_active:
            for bid in await self.chain.get_bids(await self.chain.provider_active_bid_ids(self.me)):
                if bid.model_id == mid and bid.price_per_second == price:
                    existing = bid.id
        return ProviderPlan(
            provider_stake_to_add=max(0, max(params.provider_min_stake, stake or 0)
                                      - provider.stake),
            model_stake_to_add=0 if model.is_active else params.model_min_stake,
            bid_fee=params.bid_fee,
            price_per_second=price,
            model_id=mid,
            existing_bid=existing,
        )

    async def benchmark(self, max_tokens: int = 32) -> float:
        """Tokens per second of the engine on a short answer; cached for the session."""
        if self._benchmark_tps is None:
            req = ChatRequest(
                (ChatMessage("user", "Count from one to twenty."),),
                SamplingParams(max_tokens=max_tokens, temperature=0.0),
            )
            tps = 0.0
            async for ev in self.engine.chat_stream(req):
                if isinstance(ev, CompletionDone):
                    tps = ev.metrics.tokens_per_s
            self._benchmark_tps = tps
        return self._benchmark_tps

    async def checklist(self, price_per_second: int | None = None) -> list[CheckItem]:
        """What is missing before going online, each with a plain detail."""
        from app.services.provider_checklist import run_checklist

        return await run_checklist(self, price_per_second)

    def reach_plan(self) -> ReachPlan:
        plan = self.reach
        plan.host, plan.public_endpoint = self.host, self.public_endpoint
        plan.upnp, plan.listen_consent = self.upnp, self.listen_consent
        return plan

    # -- going online ------------------------------------------------------------------------

    async def go_online(
        self, price_per_second: int | None = None, *, on_step: Callable[[str], None] | None = None,
        confirm: Callable[[ProviderPlan], Awaitable[bool]] | None = None,
    ) -> str:
        """Register (or update) the provider, register or reuse the model, bid, and serve.
        ``confirm`` sees the plan (read from chain) before any MOR is spent; False cancels.
        Returns the bid id."""
        step = on_step or (lambda s: None)

        def progress(text: str) -> None:
            self._changed(step=text)
            step(text)

        self._changed(state=ProviderState.STARTING, error="", step="")
        try:
            reach = self.reach_plan()
            reach.check_before_listening(self.chain.network.key)
            progress("Starting the provider node")
            self.server = ProviderServer(
                self.node_key, ChainSessionLookup(self.chain), self.engine,
                ProviderConfig(chain_id=int(self.chain.network.chain_id),
                               model_name=self.model_name, host=self.host, port=self.port,
                               contract_timestamp_unit="ms",
                               stream_interval_ms=self.stream_interval_ms),
                on_event=self._on_event,
                user_keys=self._keys.load(),
            )
            await self.server.start()
            if reach.upnp:
                progress("Opening the port on your router")
            endpoint = await reach.endpoint_to_publish(
                self.server.endpoint, self.server.port, self.chain.network.key)
            await self._settle_earlier_setup(progress)
            plan = await self.plan(price_per_second)
            if confirm is not None and plan.mor_needed and not await confirm(plan):
                raise GoOnlineCancelled("Cancelled: nothing was sent.")
            setup_key = f"setup:{self.me}:{time.time():.3f}"
            self.runner.store.schedule(setup_key, "provider.setup", {},
                                       title="Go online (register, model, bid)")

            async def sent(tx: SentTx) -> None:  # recorded before the broadcast
                self.runner.store.add_tx(setup_key, tx.tx_hash)

            provider = await self.chain.get_provider(self.me)
            stale = not provider.is_active or provider.endpoint != endpoint
            if plan.provider_stake_to_add or stale:
                progress("Registering as a provider")
                await self.chain.provider_register(
                    self.signer, plan.provider_stake_to_add, endpoint, on_sent=sent
                )
            if plan.model_stake_to_add:
                progress("Registering the model on chain")
                await self.chain.model_register(
                    self.signer, base_model_id_for(self.model_name), plan.model_stake_to_add,
                    self.model_name, ["llm", "morpheus-desktop"], on_sent=sent,
                )
            bid_id = plan.existing_bid
            if bid_id is None and not (plan.provider_stake_to_add or plan.model_stake_to_add):
                # Known to fail before its fee approve is sent, not after.
                await simulate_with_allowance(self.chain, self.me, DIAMOND["postModelBid"].encode(
                    self.me, id_bytes(plan.model_id), plan.price_per_second), plan.bid_fee)
            if bid_id is None:
                progress("Posting the bid")
                bid_id, _ = await self.chain.post_model_bid(
                    self.signer, plan.model_id, plan.price_per_second, on_sent=sent
                )
            self.runner.store.done(setup_key, {"bid_id": bid_id})
            self._changed(
                state=ProviderState.WAITING, step="", endpoint=endpoint, bid_id=bid_id,
                model_id=plan.model_id, started_at=time.time(),
            )
            self.cap_watch.start()
            reach.start_renewal(self.publish_endpoint)
            return bid_id
        except BaseException as exc:
            if self.server is not None:
                await self.server.stop()
                self.server = None
            await self.reach.release()
            msg = exc.message if isinstance(exc, UserFacingError) else str(exc)
            if isinstance(exc, GoOnlineCancelled):
                self._changed(state=ProviderState.OFF, error="", step="")
            else:
                self._changed(state=ProviderState.ERROR, error=msg)
            raise

    async def _settle_earlier_setup(self, progress: Callable[[str], None]) -> None:
        """A setup cut short (crash, kill -9) may have left a transaction pending: wait for it
        to be mined or dropped before planning, so nothing is registered or staked twice."""
        for job in self.runner.store.open_jobs():
            if job.kind != "provider.setup":
                continue
            for h in job.tx_hashes:
                state, _ = await self.chain.tx.tx_state(h)
                if state == "pending":
                    progress("Waiting for an earlier transaction to be mined")
                    with contextlib.suppress(UserFacingError):
                        await self.chain.tx.wait_for_receipt(
                            [h], self.chain.tx.policy.receipt_timeout
                        )
            self.runner.store.done(job.key, {"settled": True})

    def has_unsettled_setup(self) -> bool:
        """Going online was cut short after it sent a transaction (a bid may still be mined)."""
        return any(job.kind == "provider.setup" and job.tx_hashes
                   for job in self.runner.store.open_jobs())

    async def leave_nothing_online(self) -> None:
        """At quit: go offline when serving, and also when going online was cut short after
        sending a transaction, so a bid mined after the cut is deleted too."""
        if self.server is not None or self.has_unsettled_setup():
            await self.go_offline()

    async def go_offline(self, *, deregister: bool = False) -> None:
        """Delete our bid (so nobody opens a session we won't serve), stop serving, and
        optionally deregister to get the provider stake back."""
        self._changed(state=ProviderState.STOPPING)
        await self.cap_watch.stop()
        try:
            # A bid sent by a go-online that was cut short is listed only once it is mined.
            await self._settle_earlier_setup(lambda _text: None)
            for bid in await self._my_active_bids():
                await self.chain.delete_model_bid(self.signer, bid.id)
            if deregister:
                await self.chain.provider_deregister(self.signer)
        finally:
            if self.server is not None:
                await self.server.stop()
                self.server = None
            await self.reach.release()
            self._changed(state=ProviderState.OFF, bid_id="", step="")

    async def publish_endpoint(self, endpoint: str) -> None:
        """The router's public address changed: register the new endpoint (no new stake)."""
        await self.chain.provider_register(self.signer, 0, endpoint)
        self._changed(endpoint=endpoint)

    async def _withdraw_for_cap(self) -> int:
        """The cap is reached: delete our bids so nobody opens a session we would not be paid
        for. Sessions already open are still served (their users paid for them)."""
        bids = await self._my_active_bids()
        for bid in bids:
            await self.chain.delete_model_bid(self.signer, bid.id)
        self._changed(bid_id="")
        return len(bids)

    async def _my_active_bids(self) -> list[Bid]:
        ids = await self.chain.provider_active_bid_ids(self.me)
        return await self.chain.get_bids(ids) if ids else []

    # -- serving -----------------------------------------------------------------------------

    def _on_event(self, event: ProviderEvent) -> None:
        d = self.dashboard
        if isinstance(event, ApprovalIssued):
            self._keys.save(event.user, event.user_key)
            return
        sid = id_hex(event.session_id)
        if isinstance(event, PromptServed):
            if sid not in d.active_sessions:
                d.active_sessions.add(sid)
                d.sessions_served += 1
            d.prompts_served += 1
            d.tokens_served += event.completion_tokens
            d.tokens_per_s = event.tps_scaled1000 / 1000
            rec = self.sessions.get(sid, "provider")
            self.sessions.upsert(SessionRecord(
                session_id=sid, role="provider", user=event.user, provider=self.me,
                bid_id=id_hex(event.bid_id), model_id=d.model_id,
                prompts=(rec.prompts if rec else 0) + 1,
                tokens=(rec.tokens if rec else 0) + event.completion_tokens,
                opened_at=rec.opened_at if rec else 0, ends_at=rec.ends_at if rec else 0,
            ))
            if rec is None:
                self.runner.schedule(claim_key(sid), CLAIM_KIND, {"session_id": sid},
                                     title=CLAIM_TITLE)
            self._changed(state=ProviderState.SERVING)
        elif isinstance(event, ReceiptIssued | SessionFailed):
            if isinstance(event, SessionFailed):
                d.sessions_failed += 1
            d.active_sessions.discard(sid)
            self._changed(
                state=ProviderState.SERVING if d.active_sessions else ProviderState.WAITING
            )

    # -- earnings ----------------------------------------------------------------------------

    async def earnings(self) -> dict[str, int]:
        """All from the chain, in wei: ``earned`` (paid to us over all sessions), ``claimable``
        (what claims sent now would pay, after the cap), ``claimed`` (by our own claim
        transactions), ``earned_period``, ``cap`` (the stake), ``held_back`` (owed beyond the
        cap), ``period_end`` (chain time) and ``cap_reached`` (0/1)."""
        st = await self.claims.state()
        return {
            "earned": st.paid, "claimable": st.claimable, "claimed": self.claims.claimed_by_jobs(),
            "earned_period": st.limit.earned_now, "cap": st.limit.stake,
            "held_back": st.held_back, "unpaid": st.unpaid, "period_end": st.limit.until,
            "cap_reached": int(st.cap_reached),
        }

    async def serve_forever(self) -> None:
        """For the headless CLI: serve until cancelled."""
        await asyncio.Event().wait()
