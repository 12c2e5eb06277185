"""Pure-integer reference of the marketplace economics (spec §3), mirroring the contract exactly.

The UI uses it to estimate stakes, durations and refunds before sending a transaction; the devnet
tests use it as an independent oracle for what the contract pays. Every amount is int wei, every
time int Unix seconds, every division truncates like Solidity's uint256 division.
"""

from __future__ import annotations

from dataclasses import dataclass

# One pool type for the chain reads and these formulas (re-exported: tests build pools from here).
from app.market.types import Pool as Pool

DAY = 86_400
COMPUTE_POOL_INDEX = 3
MIN_SESSION_DURATION = 300
SIGNATURE_TTL = 600
PROVIDER_REWARD_LIMITER_PERIOD = 365 * DAY
MAX_UINT128 = 2**128 - 1


_BIG = Pool(3_456_000_000_000_000_000_000, 592_558_728_240_000_000, 1_707_393_600, DAY)
_SMALL = Pool(576_000_000_000_000_000_000, 98_759_788_040_000_000, 1_707_393_600, DAY)
#: The five pools every live deployment was initialised with (spec §1.2); index 3 is compute.
DEPLOYED_POOLS: tuple[Pool, ...] = (_BIG, _BIG, _BIG, _BIG, _SMALL)


def _ceil_div(a: int, b: int) -> int:
    return 0 if a == 0 else (a - 1) // b + 1


def start_of_day(t: int) -> int:
    """UTC midnight at or before ``t``."""
    return t - t % DAY


def period_reward(
    init: int, dec: int, payout_start: int, interval: int, start: int, end: int
) -> int:
    """The emission library's general algorithm (spec §3.3), for any ``[start, end)``."""
    if interval == 0:
        return 0
    p, i = payout_start, interval
    s = max(start, p)
    max_end = p + _ceil_div(init, dec) * i if dec > 0 else MAX_UINT128
    e = min(end, max_end)
    if s >= e:
        return 0
    k_first = (s - p) // i
    if k_first == (e - p) // i:
        return (init - k_first * dec) * (e - s) // i
    a = 0
    if k_first * dec < init:
        part = i * (k_first + 1) + p - s
        if part != i:
            a = (init - k_first * dec) * part // i
    b = 0
    j = _ceil_div(s - p, i)
    if j * dec < init:
        m = (e - p - j * i) // i
        if m:
            b = (init - j * dec) * m - (dec * (m * (m - 1))) // 2
    c = 0
    k_last = (e - p) // i
    if k_last * dec < init:
        part = e - i * k_last - p
        if part != i:
            c = (init - k_last * dec) * part // i
    return a + b + c


def pool_reward_until(pool: Pool, end: int) -> int:
    """Closed form of what the contract asks the library for: reward from payoutStart to ``end``."""
    p, i = pool.payout_start, pool.decrease_interval
    init, dec = pool.initial_reward, pool.reward_decrease
    if i == 0 or end <= p:
        return 0
    max_end = p + _ceil_div(init, dec) * i if dec > 0 else MAX_UINT128
    e = min(end, max_end)
    n, r = divmod(e - p, i)
    if n == 0:
        return init * (e - p) // i
    reward = init * n - (dec * (n * (n - 1))) // 2
    if n * dec < init:
        reward += (init - n * dec) * r // i
    return reward


def stake_with_margin(*, supply: int, budget: int, price: int, seconds: int) -> int:
    """The stake the program sends for ``seconds`` at ``price``: spec §3.7's supply·cost/budget
    with one second and one wei more, which absorbs the rounding that otherwise loses a second
    (§8.29). ``supply`` and ``budget`` are the contract's own views at the same timestamp."""
    if budget <= 0:
        raise ArithmeticError("today's budget is zero: no staked session can be opened")
    return supply * price * (seconds + 1) // budget + 1


@dataclass(frozen=True)
class Economics:
    """The on-chain inputs of every formula: pools, ``providersTotalClaimed`` and the max duration.

    Read them from the chain (``getPools``, ``getProvidersTotalClaimed``, ``getMaxSessionDuration``)
    for estimates that match what the contract will compute.
    """

    pools: tuple[Pool, ...] = DEPLOYED_POOLS
    total_claimed: int = 0
    max_session_duration: int = 7 * DAY

    def compute_balance(self, t: int) -> int:
        """``getComputeBalance``; the contract reverts (underflow) where this raises."""
        emitted = pool_reward_until(self.pools[COMPUTE_POOL_INDEX], start_of_day(t))
        bal = emitted - self.total_claimed
        if bal < 0:
            raise ArithmeticError("compute balance underflow (the contract reverts)")
        return bal

    def total_supply(self, t: int) -> int:
        """``totalMORSupply``: every non-compute pool's emission plus what providers were paid."""
        d = start_of_day(t)
        others = sum(
            pool_reward_until(pool, d)
            for idx, pool in enumerate(self.pools)
            if idx != COMPUTE_POOL_INDEX
        )
        return others + self.total_claimed

    def todays_budget(self, t: int) -> int:
        return self.compute_balance(t) // 100

    def stake_to_stipend(self, amount: int, t: int) -> int:
        supply = self.total_supply(t)
        if supply == 0:
            return 0
        return amount * self.compute_balance(t) // (supply * 100)

    def stipend_to_stake(self, stipend: int, t: int) -> int:
        balance = self.compute_balance(t)
        if balance == 0:
            return 0
        return stipend * self.total_supply(t) * 100 // balance

    def session_end(self, amount: int, price: int, opened_at: int) -> int:
        """``getSessionEnd``: the stipend buys seconds at ``price``, capped at the max duration."""
        duration = min(self.stake_to_stipend(amount, opened_at) // price, self.max_session_duration)
        return opened_at + duration

    def stake_for_duration(self, price: int, seconds: int, t: int) -> int:
        """Stake the Go consumer sends for ``seconds`` at ``price`` (spec §3.7): supply·cost/budget.

        Because of rounding (spec §8 item 29) the resulting session can be a second short.
        """
        budget = self.todays_budget(t)
        if budget == 0:
            raise ArithmeticError("today's budget is zero: no staked session can be opened")
        return self.total_supply(t) * (price * seconds) // budget

    def settle_close(
        self,
        *,
        stake: int,
        price: int,
        opened_at: int,
        ends_at: int,
        closed_at: int,
        withdrawn: int = 0,
        direct: bool = False,
        dispute: bool = False,
    ) -> Settlement:
        """What ``closeSession`` moves (spec §3.8), before the provider's 365-day cap.

        ``self`` must hold the state *before* the close (total_claimed before the payout).
        """
        c, e, o, p = closed_at, ends_at, opened_at, price
        day = start_of_day(c)
        early = c < e
        to_provider_from_stake = (min(c, e) - o) * p if direct else 0
        unlocked = stake - to_provider_from_stake
        on_hold = 0
        if early:
            on_hold = min(unlocked, self.stipend_to_stake((c - max(o, day)) * p, day))
        reward = (min(c, e) - o) * p - withdrawn
        withheld = (c - max(day, o)) * p if dispute and early else 0
        return Settlement(
            user_refund=unlocked - on_hold,
            user_on_hold=on_hold,
            on_hold_release_at=day + DAY if early else None,
            provider_due=reward - withheld,
            provider_withheld=withheld,
        )


@dataclass(frozen=True)
class Settlement:
    user_refund: int  # paid to the user at close
    user_on_hold: int  # locked until on_hold_release_at, then withdrawUserStakes
    on_hold_release_at: int | None
    provider_due: int  # paid at close, subject to the 365-day cap
    provider_withheld: int  # today's earnings kept back on a disputed early close


def claimable_for_provider(
    *, price: int, opened_at: int, ends_at: int, closed_at: int, withdrawn: int, now: int
) -> int:
    """``claimForProvider``'s amount before the cap (spec §3.10); raises where it would panic."""
    session_end = ends_at if closed_at == 0 else min(closed_at, ends_at)
    rewards = (session_end - opened_at) * price - withdrawn if now >= session_end else 0
    closed_day = start_of_day(closed_at)
    held = 0
    if now < closed_day + DAY:
        held = (closed_at - max(closed_day, opened_at)) * price
    if held > rewards:
        raise ArithmeticError("claim underflows (the contract reverts with Panic 0x11)")
    return rewards - held


def limit_payout(
    amount: int, *, provider_stake: int, earned: int, period_end: int, now: int
) -> tuple[int, int, int]:
    """Apply the 365-day limiter (spec §3.11): returns ``(pay, new_earned, new_period_end)``."""
    if now > period_end:
        period_end, earned = now + PROVIDER_REWARD_LIMITER_PERIOD, 0
    pay = min(amount, provider_stake - earned)
    if pay <= 0:
        return 0, earned, period_end
    return pay, earned + pay, period_end


def provider_deregister_refund(*, stake: int, earned: int, period_end: int, now: int) -> int:
    """Stake returned by ``providerDeregister`` (spec §3.12)."""
    return stake if now > period_end else stake - earned
