"""The Python reference economics (app.market.economics) equal the spec and the contract."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from app.chain.devnet import Devnet
from app.market.economics import (
    DAY,
    DEPLOYED_POOLS,
    Economics,
    Pool,
    period_reward,
    pool_reward_until,
    start_of_day,
)
from tests.contracts.helpers import MOR, assert_reverts, economics, send


def _ts(y: int, m: int, d: int) -> int:
    return int(datetime(y, m, d, tzinfo=UTC).timestamp())


def test_closed_form_equals_the_general_emission_algorithm() -> None:
    rng = random.Random(7)
    pools = [
        *DEPLOYED_POOLS,
        Pool(10**20, 10**18, 1_700_000_000, 3_600),
        Pool(5 * MOR, 0, 1_000, 7),
    ]
    for _ in range(2000):
        pool = rng.choice(pools)
        end = pool.payout_start + rng.randint(-10 * DAY, 6000 * DAY)
        general = period_reward(
            pool.initial_reward,
            pool.reward_decrease,
            pool.payout_start,
            pool.decrease_interval,
            pool.payout_start,
            end,
        )
        assert pool_reward_until(pool, end) == general


def test_spec_illustrative_numbers() -> None:
    econ = Economics()
    t = _ts(2026, 1, 1)
    assert round(econ.compute_balance(t) / MOR, 2) == 2_251_402.48
    assert round(econ.total_supply(t) / MOR, 2) == 7_129_441.18
    assert round(econ.todays_budget(t) / MOR, 2) == 22_514.02
    t2 = _ts(2026, 5, 28)
    assert round(econ.compute_balance(t2) / MOR, 2) == 2_692_754.73
    # 1 hour at 1e13 wei/s costs 0.036 MOR of stipend, which needs ~11.4 MOR of stake
    stake = econ.stake_for_duration(10**13, 3600, t)
    assert round(stake / MOR, 1) == 11.4
    assert econ.session_end(stake, 10**13, t) - t in (3599, 3600)
    # the stipend ratio (~316.67) holds both ways
    assert abs(econ.stipend_to_stake(MOR, t) / MOR - 316.67) < 0.01


def test_session_end_is_capped_at_the_max_duration() -> None:
    econ = Economics(max_session_duration=7 * DAY)
    t = _ts(2026, 3, 3) + 123
    assert econ.session_end(10**30, 10**10, t) == t + 7 * DAY


def test_contract_views_equal_the_reference_at_many_dates(devnet: Devnet) -> None:
    diamond = devnet.diamond()
    fns = diamond.functions
    econ = economics(diamond)
    assert econ.pools == DEPLOYED_POOLS
    rng = random.Random(3)
    dates = [1_707_393_600 - DAY, 1_707_393_600, 1_707_393_600 + 43_200, _ts(2026, 1, 1) + 5]
    dates += [rng.randint(1_707_000_000, 1_707_393_600 + 3000 * DAY) for _ in range(6)]
    for t in dates:
        assert fns.startOfTheDay(t).call() == start_of_day(t)
        assert fns.getComputeBalance(t).call() == econ.compute_balance(t)
        assert fns.totalMORSupply(t).call() == econ.total_supply(t)
        assert fns.getTodaysBudget(t).call() == econ.todays_budget(t)
        assert fns.stakeToStipend(123 * MOR, t).call() == econ.stake_to_stipend(123 * MOR, t)
        assert fns.stipendToStake(MOR // 7, t).call() == econ.stipend_to_stake(MOR // 7, t)
        if econ.compute_balance(t) > 0:
            price = rng.choice([10**10, 10**13, 3 * 10**15])
            amount = rng.randint(1, 500) * MOR
            assert fns.getSessionEnd(amount, price, t).call() == econ.session_end(amount, price, t)


def test_pool_config_changes_feed_the_formulas(chain: Devnet) -> None:
    diamond = chain.diamond()
    owner = chain.account(0).address
    # a compute pool that runs dry after 10 days: the emission stops growing at its max end
    dry = Pool(10 * MOR, MOR, 1_707_393_600, DAY)
    send(diamond.functions.setPoolConfig(3, dry.as_tuple()), owner)
    econ = economics(diamond)
    t = _ts(2026, 2, 2)
    assert diamond.functions.getComputeBalance(t).call() == econ.compute_balance(t) == 55 * MOR
    assert_reverts(
        diamond.functions.setPoolConfig(5, dry.as_tuple()), owner, "SessionPoolIndexOutOfBounds()"
    )
    assert_reverts(
        diamond.functions.setPoolConfig(3, dry.as_tuple()),
        chain.account(4).address,
        "OwnableUnauthorizedAccount(address)",
    )
    assert_reverts(
        diamond.functions.setMaxSessionDuration(299), owner, "SessionMaxDurationTooShort()"
    )


def test_the_quoted_stake_covers_the_asked_time_despite_rounding() -> None:
    """The consumer's stake (one formula, in ``app.market.economics``) buys at least the seconds
    asked for, where the bare spec formula can come out a second short."""
    from app.market.economics import stake_with_margin

    supply, budget, price = 52_000_000 * 10**18 + 7, 3_000 * 10**18 + 11, 10**13 + 3
    for seconds in (300, 1_799, 3_600, 86_400):
        stake = stake_with_margin(supply=supply, budget=budget, price=price, seconds=seconds)
        stipend = stake * budget // supply  # what the contract turns the stake into
        assert stipend // price >= seconds
    with pytest.raises(ArithmeticError):
        stake_with_margin(supply=supply, budget=0, price=price, seconds=300)
