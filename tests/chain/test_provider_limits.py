"""The reward limiter's arithmetic (spec §3.10-3.11) as the claim jobs and the dashboard use it,
checked on hand-worked numbers (the devnet tests check the same against the contract)."""

from __future__ import annotations

from app.chain.provider_limits import EarningsState, RewardLimit, SessionDue
from app.market.economics import DAY, PROVIDER_REWARD_LIMITER_PERIOD
from app.market.types import Session

P = 10**15
T0 = 1_800_000_000 - 1_800_000_000 % DAY + 3600  # 01:00 UTC


def session(opened: int, ends: int, closed: int = 0, withdrawn: int = 0) -> Session:
    return Session(id="0x" + "22" * 32, user="0x" + "11" * 20, bid_id="0x" + "33" * 32,
                   stake=10**18, closeout_receipt=b"", closeout_type=0,
                   provider_withdrawn_amount=withdrawn, opened_at=opened, ends_at=ends,
                   closed_at=closed, is_active=closed == 0, is_direct_payment=False)


def test_the_limiter_pays_up_to_the_stake_then_resets_with_the_period() -> None:
    lim = RewardLimit(stake=3 * P * 100, earned=2 * P * 100, period_end=T0 + 1000, now=T0)
    assert (lim.headroom, lim.pay(5 * P * 100), lim.pay(P)) == (P * 100, P * 100, P)
    over = RewardLimit(stake=3 * P * 100, earned=3 * P * 100, period_end=T0 - 1, now=T0)
    assert over.period_over and over.earned_now == 0 and over.headroom == 3 * P * 100
    assert over.until == T0 + PROVIDER_REWARD_LIMITER_PERIOD


def test_cap_reached_counts_what_is_owed_and_accruing() -> None:
    now = T0 + 500
    running = SessionDue(session(T0, T0 + 1000), P)  # 500 s accrued so far
    expired = SessionDue(session(T0 - 2000, T0 - 1000), P)  # 1000 s owed, unclaimed
    lim = RewardLimit(stake=1200 * P, earned=0, period_end=T0 + DAY * 300, now=now)
    st = EarningsState(lim, (running, expired))
    assert st.unpaid == 1500 * P and st.projected == 1500 * P
    assert st.cap_reached and st.held_back == 300 * P
    assert st.claimable == 1000 * P  # only the expired one is claimable now, within the cap
    small = EarningsState(RewardLimit(2000 * P, 0, T0 + DAY, now), (running,))
    assert not small.cap_reached and not small.near_cap and small.held_back == 0


def test_an_early_close_is_held_until_midnight_then_claimable() -> None:
    closed = T0 + 300
    due = SessionDue(session(T0, T0 + 1000, closed=closed, withdrawn=100 * P), P)
    assert due.claim_amount(closed + 10) is None  # the contract would panic (same UTC day)
    assert due.held_until_midnight() == T0 - 3600 + DAY
    assert due.claim_amount(T0 - 3600 + DAY) == 200 * P
