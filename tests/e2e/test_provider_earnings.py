"""The provider's earnings cap on the devnet, with our contracts and the real SmolLM2: a provider
with stake S serves past its cap; the bid is withdrawn and every view says so; no claim is sent
while it would pay 0; after the 365-day period the held-back earnings are claimed automatically;
sessions never prompted are claimed too; `morpheus claim` recomputes from the chain. Every amount
is checked to the wei against the contract's own views."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

from app.cli import main
from app.inference.types import ChatMessage, ChatRequest, SamplingParams
from app.paths import app_paths
from app.services.provider_claims import claim_key
from app.services.runtime import Runtime
from app.storage.jobs import JobState
from tests.e2e.conftest import PROVIDER_INDEX, Market

pytestmark = pytest.mark.asyncio(loop_scope="session")

PRICE = 5 * 10**14  # wei per second: 1.8 MOR per hour
STAKE = 3 * 10**17  # 0.3 MOR: the most the contract pays per 365-day period


async def until(cond, what: str, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    """Poll an async condition with a deadline (never a bare sleep as synchronisation)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await cond():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def cli_home(market: Market, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MORPHEUS_HOME", str(tmp))
    paths = app_paths().ensure()
    (paths.data / "devnet").mkdir(parents=True, exist_ok=True)
    (paths.data / "devnet" / "network.json").write_text(json.dumps(market.devnet.network))
    return tmp


async def cli(*argv: str) -> int:
    """A `morpheus` command in a thread: it runs its own event loop, as from a shell."""
    args = [*argv, "--network", "devnet", "--dev-account", str(PROVIDER_INDEX)]
    return await asyncio.to_thread(main, args)


async def prompt_once(opened) -> None:  # type: ignore[no-untyped-def]
    req = ChatRequest((ChatMessage("user", "Say hi."),), SamplingParams(max_tokens=4,
                                                                       temperature=0.0))
    async for _ in opened.engine.chat_stream(req):
        pass


async def test_cap_reached_withdraws_the_bid_and_held_back_earnings_are_claimed_later(
    market: Market, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    chain, provider, me = market.p.chain, market.provider, market.provider.me
    provider.provider_stake = STAKE
    provider.cap_watch.every = 0.2
    bid_id = await provider.go_online(PRICE)
    assert (await chain.get_provider(me)).stake == STAKE

    a = await market.consumer.open_session(bid_id, 1200)  # prompted, closed early
    b = await market.consumer.open_session(bid_id, 360)  # opened, never prompted, expires
    await prompt_once(a)
    await until(lambda: _false_if_none(provider.dashboard.cap), "the first cap reading")
    assert provider.dashboard.cap is not None and not provider.dashboard.cap.cap_reached

    # 800 s later: A has earned 0.4 MOR and B 0.18 MOR, more than the 0.3 MOR cap.
    market.devnet.time_travel(800)

    async def withdrawn() -> bool:
        cap = provider.dashboard.cap
        return cap is not None and cap.cap_reached and cap.bid_withdrawn

    await until(withdrawn, "the bid to be withdrawn at the cap")
    assert not await chain.is_bid_active(bid_id)
    assert "Earnings cap reached" in provider.dashboard.cap.text  # type: ignore[union-attr]
    assert "bid was withdrawn" in provider.dashboard.cap.text  # type: ignore[union-attr]

    bal0 = await chain.mor_balance(me)
    await market.consumer.close_session(a.record.session_id)
    sa = await chain.get_session(a.record.session_id)
    owed_a = (sa.closed_at - sa.opened_at) * PRICE
    assert owed_a > STAKE
    # The close paid the whole cap and no more.
    assert sa.provider_withdrawn_amount == STAKE
    assert await chain.mor_balance(me) == bal0 + STAKE
    assert (await chain.get_provider(me)).limit_period_earned == STAKE

    # No claim transaction while it would pay 0: B is capped, A's day is held till midnight.
    await provider.cap_watch.check()
    market.p.runner.poke_all()
    await market.p.runner.run_due()
    jobs = {j.key: j for j in market.p.runner.store.all() if j.kind == "provider.claim"}
    ka, kb = claim_key(a.record.session_id), claim_key(b.record.session_id)
    assert ka in jobs and kb in jobs, "every session is claimed, prompted or not"
    assert all(not j.tx_hashes for j in jobs.values())
    assert all(j.state is JobState.PENDING for j in jobs.values())
    assert "earnings cap reached" in jobs[kb].last_error
    assert await chain.mor_balance(me) == bal0 + STAKE

    earnings = await provider.earnings()
    sb = await chain.get_session(b.record.session_id)
    owed_b = (sb.ends_at - sb.opened_at) * PRICE
    assert earnings["earned_period"] == STAKE and earnings["cap"] == STAKE
    assert earnings["held_back"] == (owed_a - STAKE) + owed_b
    assert earnings["cap_reached"] == 1 and earnings["claimable"] == 0

    # `morpheus sessions` says the same, from the chain.
    cli_home(market, tmp_path / "cli", monkeypatch)
    capsys.readouterr()
    assert await cli("sessions") == 0
    out = capsys.readouterr().out
    line_a = next(ln for ln in out.splitlines() if ln.startswith(a.record.session_id))
    assert "provider" in line_a and "closed" in line_a
    assert f"stake {sa.stake / 10**18:.6f} MOR" in line_a
    assert f"earned {STAKE / 10**18:.6f} MOR" in line_a
    line_b = next(ln for ln in out.splitlines() if ln.startswith(b.record.session_id))
    assert "expired" in line_b and "earned 0.000000 MOR" in line_b
    assert "Earnings cap reached" in out and "No active bid" in out

    # A year later the period resets: the held-back earnings are claimed automatically.
    period_end = (await chain.get_provider(me)).limit_period_end
    market.devnet.time_travel(period_end - await chain.latest_timestamp() + 60)
    claimed_before = await chain.providers_total_claimed()
    market.p.runner.poke_all()
    await market.p.runner.run_due()
    jobs = {j.key: j for j in market.p.runner.store.all() if j.kind == "provider.claim"}
    assert jobs[ka].state is JobState.DONE and jobs[kb].state is JobState.DONE
    rest = (owed_a - STAKE) + owed_b
    assert rest < STAKE  # fits in the new period's cap
    assert (await chain.get_session(a.record.session_id)).provider_withdrawn_amount == owed_a
    assert (await chain.get_session(b.record.session_id)).provider_withdrawn_amount == owed_b
    assert await chain.mor_balance(me) == bal0 + STAKE + rest
    assert await chain.providers_total_claimed() == claimed_before + rest
    assert (await chain.get_provider(me)).limit_period_earned == rest
    assert int(jobs[ka].payload["claimed"]) == owed_a - STAKE
    assert int(jobs[kb].payload["claimed"]) == owed_b
    assert (await provider.earnings())["earned"] == owed_a + owed_b

    await provider.go_offline()


async def _false_if_none(value: object) -> bool:
    return value is not None


async def test_unprompted_session_is_claimed_by_morpheus_claim_despite_a_finished_job(
    market: Market, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    chain, provider, me = market.p.chain, market.provider, market.provider.me
    bid_id = await provider.go_online(PRICE)
    opened = await market.consumer.open_session(bid_id, 360)
    sid = opened.record.session_id
    await provider.go_offline()  # the bid is deleted; the session stays open on chain
    market.devnet.time_travel(400)

    # The old bug: a claim job finished with nothing claimed, and `morpheus claim` trusted it.
    cli_home(market, tmp_path / "cli", monkeypatch)
    rt = Runtime(network_key="devnet")
    runner = rt.runner(chain.network.chain_id, me)
    runner.store.schedule(claim_key(sid), "provider.claim", {"session_id": sid})
    runner.store.done(claim_key(sid), {"claimed": "0"})
    await rt.close()

    s = await chain.get_session(sid)
    owed = (s.ends_at - s.opened_at) * PRICE
    bal0 = await chain.mor_balance(me)
    capsys.readouterr()
    assert await cli("claim") == 0
    out = capsys.readouterr().out
    assert f"Claimed now: {owed / 10**18:.6f} MOR" in out
    assert (await chain.get_session(sid)).provider_withdrawn_amount == owed
    assert await chain.mor_balance(me) == bal0 + owed
    # Run again: nothing owed, nothing sent.
    nonce = await chain.w3.eth.get_transaction_count(me)
    assert await cli("claim") == 0
    assert "Claimed now: 0.000000 MOR" in capsys.readouterr().out
    assert await chain.w3.eth.get_transaction_count(me) == nonce
