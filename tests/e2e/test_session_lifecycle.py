"""Two wallets on the devnet, our contracts and the real SmolLM2: a provider goes online, a
consumer opens a session, chats, closes early, and every wei lands where the contract says."""

from __future__ import annotations

import pytest

from app.inference.types import ChatMessage, ChatRequest, CompletionDone, SamplingParams, TokenDelta
from app.market.economics import DAY, Economics, Pool, start_of_day
from app.storage.jobs import JobState
from tests.e2e.conftest import Market

pytestmark = pytest.mark.asyncio(loop_scope="session")

PRICE = 10**13  # wei per second


async def test_register_bid_open_prompt_close_and_withdraw(market: Market) -> None:
    chain = market.c.chain
    bid_id = await market.provider.go_online(PRICE)
    bid = await chain.get_bid(bid_id)
    assert bid.is_active and bid.price_per_second == PRICE
    assert bid.provider == market.provider.me
    provider_info = await chain.get_provider(market.provider.me)
    assert provider_info.endpoint == market.provider.dashboard.endpoint

    user = market.consumer.user
    mor_before_open = await chain.mor_balance(user)
    opened = await market.consumer.open_session(bid_id, 600)
    rec = opened.record
    assert rec.stake > 0 and rec.ends_at - rec.opened_at >= 600
    assert await chain.mor_balance(user) == mor_before_open - rec.stake

    # A prompt streams from the provider: signed, encrypted, decrypted, real tokens.
    request = ChatRequest((ChatMessage("user", "Say hello."),),
                          SamplingParams(max_tokens=12, temperature=0.0))
    pieces: list[str] = []
    done: CompletionDone | None = None
    async for ev in opened.engine.chat_stream(request):
        if isinstance(ev, TokenDelta):
            pieces.append(ev.text)
        else:
            done = ev
    assert len(pieces) >= 2 and "".join(pieces).strip()
    assert done is not None and done.metrics.completion_tokens > 0

    # Close early, two minutes in, with the provider's signed receipt.
    market.devnet.time_travel(120)
    s = await chain.get_session(rec.session_id)
    pools = tuple(Pool(p.initial_reward, p.reward_decrease, p.payout_start, p.decrease_interval)
                  for p in await chain.pools())
    econ = Economics(pools=pools, total_claimed=await chain.providers_total_claimed(),
                     max_session_duration=await chain.max_session_duration())
    prov_before = await chain.mor_balance(market.provider.me)
    user_before_close = await chain.mor_balance(user)

    closed = await market.consumer.close_session(rec.session_id)

    after = await chain.get_session(rec.session_id)
    assert after.closed_at > 0 and not after.is_active
    assert after.closeout_type == 0, "the provider's receipt must not count as a dispute"
    expect = econ.settle_close(stake=s.stake, price=PRICE, opened_at=s.opened_at,
                               ends_at=s.ends_at, closed_at=after.closed_at)
    assert closed.refunded == expect.user_refund
    assert closed.on_hold == expect.user_on_hold
    assert await chain.mor_balance(user) == user_before_close + expect.user_refund
    assert await chain.mor_balance(market.provider.me) == prov_before + expect.provider_due
    assert expect.provider_due == (after.closed_at - s.opened_at) * PRICE

    # The held part is released at the next UTC midnight; the withdraw job collects it.
    held = await chain.user_stakes_on_hold(user)
    assert held.hold == expect.user_on_hold and held.available == 0
    release = start_of_day(after.closed_at) + DAY
    now = await chain.latest_timestamp()
    market.devnet.time_travel(release - now + 1)
    market.c.runner.poke_all()
    await market.c.runner.run_due()
    withdraws = [j for j in market.c.runner.store.all() if j.kind == "consumer.withdraw"]
    assert withdraws and withdraws[0].state is JobState.DONE
    assert int(withdraws[0].result["withdrawn"]) == expect.user_on_hold
    final = await chain.mor_balance(user)
    assert final == mor_before_open - s.stake + expect.user_refund + expect.user_on_hold
    assert final == mor_before_open, "a staked session costs the user nothing in the end"
    assert (await chain.user_stakes_on_hold(user)).hold == 0

    await market.provider.go_offline()
    assert not await chain.is_bid_active(bid_id)
