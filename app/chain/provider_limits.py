"""A provider's earnings as the contract sees them: the reward limit (spec §3.11) and, per session
served with our bids, what is owed, what a ``claimForProvider`` would pay now, and what the cap
holds back.

Why here and not in the client: these are reads plus the contract's own arithmetic, and the claim
job, the dashboard and ``morpheus sessions`` must all agree to the wei with the contract's views.
Every function takes the chain client as an argument, so nothing else about it changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from app.market.economics import (
    DAY,
    PROVIDER_REWARD_LIMITER_PERIOD,
    claimable_for_provider,
    limit_payout,
    start_of_day,
)
from app.market.types import Bid, Provider, Session, id_hex

#: "Close to the cap" starts at this share of the stake (numerator, denominator).
WARN_AT = (8, 10)


class ProviderReads(Protocol):
    """The few reads of ``ChainClient`` used here (a protocol keeps tests free to pass fakes)."""

    async def get_provider(self, address: str) -> Provider: ...
    async def provider_session_ids(self, provider: str) -> list[str]: ...
    async def get_sessions(self, session_ids: list[str]) -> list[Session]: ...
    async def get_bids(self, bid_ids: list[str]) -> list[Bid]: ...
    async def latest_timestamp(self) -> int: ...


@dataclass(frozen=True)
class RewardLimit:
    """``getProvider``'s limiter fields at chain time ``now``."""

    stake: int
    earned: int  # limitPeriodEarned as stored (stale once the period is over)
    period_end: int
    now: int

    @property
    def period_over(self) -> bool:
        """The next payout starts a new period (the contract resets it lazily, on payout)."""
        return self.now > self.period_end

    @property
    def earned_now(self) -> int:
        return 0 if self.period_over else self.earned

    @property
    def headroom(self) -> int:
        """The most the contract pays us before the period ends."""
        return max(0, self.stake - self.earned_now)

    @property
    def until(self) -> int:
        """When the current period ends (a new one would start at the next payout)."""
        return self.now + PROVIDER_REWARD_LIMITER_PERIOD if self.period_over else self.period_end

    def pay(self, amount: int) -> int:
        """What the contract transfers for a claim of ``amount`` (the limiter, exactly)."""
        paid, _, _ = limit_payout(amount, provider_stake=self.stake, earned=self.earned,
                                  period_end=self.period_end, now=self.now)
        return paid


@dataclass(frozen=True)
class SessionDue:
    """One session served with one of our bids, with the bid's price."""

    session: Session
    price: int

    @property
    def id(self) -> str:
        return self.session.id

    @property
    def end(self) -> int:
        s = self.session
        return s.ends_at if s.closed_at == 0 else min(s.closed_at, s.ends_at)

    def unpaid(self, now: int) -> int:
        """Earned so far (up to ``now`` or the session's end) and not paid to us yet."""
        s = self.session
        return max(0, (min(now, self.end) - s.opened_at) * self.price
                   - s.provider_withdrawn_amount)

    def claim_amount(self, now: int) -> int | None:
        """``claimForProvider``'s amount before the cap; None where the contract would revert
        (an early close's earnings of the day are held until the next UTC midnight)."""
        s = self.session
        try:
            return claimable_for_provider(price=self.price, opened_at=s.opened_at,
                                          ends_at=s.ends_at, closed_at=s.closed_at,
                                          withdrawn=s.provider_withdrawn_amount, now=now)
        except ArithmeticError:
            return None

    def held_until_midnight(self) -> int:
        return start_of_day(self.session.closed_at) + DAY


@dataclass(frozen=True)
class EarningsState:
    """The dashboard's numbers, all in wei and all from the chain."""

    limit: RewardLimit
    sessions: tuple[SessionDue, ...]

    @property
    def paid(self) -> int:
        """Paid to us over all sessions (``providerWithdrawnAmount`` summed)."""
        return sum(d.session.provider_withdrawn_amount for d in self.sessions)

    @property
    def unpaid(self) -> int:
        """Owed or accruing in our sessions and not paid yet."""
        return sum(d.unpaid(self.limit.now) for d in self.sessions)

    @property
    def projected(self) -> int:
        """What this period's cap is measured against: earned in it plus everything unpaid."""
        return self.limit.earned_now + self.unpaid

    @property
    def held_back(self) -> int:
        """Owed to us but beyond what the cap lets the contract pay in this period."""
        return max(0, self.unpaid - self.limit.headroom)

    @property
    def cap_reached(self) -> bool:
        """Every further second served is served for free until the period ends."""
        return self.limit.stake > 0 and self.projected >= self.limit.stake

    @property
    def near_cap(self) -> bool:
        num, den = WARN_AT
        return self.limit.stake > 0 and self.projected * den >= self.limit.stake * num

    @property
    def claimable(self) -> int:
        """What claims sent now would pay in total (each amount, then the cap over all)."""
        total = sum(a for d in self.sessions if (a := d.claim_amount(self.limit.now)))
        return min(total, self.limit.headroom)


async def read_reward_limit(chain: ProviderReads, provider: str) -> RewardLimit:
    p = await chain.get_provider(provider)
    now = await chain.latest_timestamp()
    return RewardLimit(stake=p.stake, earned=p.limit_period_earned,
                       period_end=p.limit_period_end, now=now)


async def read_sessions_due(chain: ProviderReads, provider: str) -> list[SessionDue]:
    """Every session opened with one of our bids, with its bid's price (batched reads)."""
    ids = await chain.provider_session_ids(provider)
    if not ids:
        return []
    sessions = await chain.get_sessions(ids)
    bid_ids = sorted({id_hex(s.bid_id) for s in sessions})
    prices = {b.id: b.price_per_second for b in await chain.get_bids(bid_ids)}
    return [SessionDue(s, prices.get(id_hex(s.bid_id), 0)) for s in sessions if s.exists]


async def read_earnings(chain: ProviderReads, provider: str) -> EarningsState:
    due = await read_sessions_due(chain, provider)
    return EarningsState(await read_reward_limit(chain, provider), tuple(due))
