"""The earnings cap while online: watch it, warn before it is reached, and stop taking new sessions
(delete the bid) once every further second would be served for free, unless the user chose to
keep serving for free.

Why: the contract pays a provider at most its own stake per 365-day period (spec §3.11). With the
minimum stake that is reached after a few minutes of a busy model, and nothing on chain tells the
provider; the only honest thing to do is to say so and stop offering work that will not be paid.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from app.chain.provider_limits import EarningsState
from app.errors import UserFacingError


class Claims(Protocol):
    """What the watch needs of ``ProviderClaims`` (which itself uses ``CapStatus``)."""

    async def state(self) -> EarningsState: ...

    async def schedule_claims(self, state: EarningsState | None = None, *,
                              reopen_failed: bool = True) -> int: ...

log = logging.getLogger(__name__)

CHECK_EVERY_S = 30.0


def mor(wei: int) -> str:
    return f"{wei / 10**18:.6g} MOR"


def day(t: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(t))


@dataclass(frozen=True)
class CapStatus:
    """What the dashboard and ``morpheus sessions`` say about the earnings cap (wei, chain time)."""

    stake: int  # the cap for the period
    earned_period: int  # paid to us in the current period
    unpaid: int  # owed or accruing, not paid yet
    held_back: int  # owed beyond what the cap lets the contract pay this period
    period_end: int
    cap_reached: bool
    near_cap: bool
    bid_withdrawn: bool = False
    serving_free: bool = False

    @classmethod
    def of(cls, st: EarningsState, *, bid_withdrawn: bool = False,
           serving_free: bool = False) -> CapStatus:
        return cls(stake=st.limit.stake, earned_period=st.limit.earned_now, unpaid=st.unpaid,
                   held_back=st.held_back, period_end=st.limit.until,
                   cap_reached=st.cap_reached, near_cap=st.near_cap,
                   bid_withdrawn=bid_withdrawn, serving_free=serving_free)

    @property
    def text(self) -> str:
        cap = (f"with a stake of {mor(self.stake)} you can earn at most {mor(self.stake)} "
               f"until {day(self.period_end)}")
        if self.cap_reached:
            held = (f"; {mor(self.held_back)} owed to you is held back and claimed "
                    f"automatically after {day(self.period_end)}" if self.held_back else "")
            if self.serving_free:
                return (f"Earnings cap reached ({cap}){held}. You chose to keep serving for "
                        "free.")
            stop = ("Your bid was withdrawn, so nobody can open new sessions" if
                    self.bid_withdrawn else "Your bid is being withdrawn")
            return (f"Earnings cap reached ({cap}){held}. {stop}; raise the stake to earn "
                    "more.")
        if self.near_cap:
            return (f"Close to the earnings cap: {mor(self.earned_period + self.unpaid)} of "
                    f"{mor(self.stake)} ({cap}).")
        return cap[0].upper() + cap[1:] + "."


class CapWatch:
    """Runs ``check`` every few seconds while online (and on demand)."""

    def __init__(self, claims: Claims, *,
                 withdraw_bids: Callable[[], Awaitable[int]],
                 report: Callable[[CapStatus], None],
                 keep_serving_free: Callable[[], bool],
                 every: float = CHECK_EVERY_S) -> None:
        self.claims = claims
        self.withdraw_bids = withdraw_bids
        self.report = report
        self.keep_serving_free = keep_serving_free
        self.every = every
        self.status: CapStatus | None = None
        self._withdrawn = False
        self._task: asyncio.Task[None] | None = None

    async def check(self) -> CapStatus:
        """Read the cap from the chain, queue claims for every session of ours (prompted or
        not), and withdraw the bid once the cap is reached."""
        st = await self.claims.state()
        await self.claims.schedule_claims(st, reopen_failed=False)
        free = self.keep_serving_free()
        if st.cap_reached and not free and not self._withdrawn:
            self.report(CapStatus.of(st))
            n = await self.withdraw_bids()
            self._withdrawn = True
            log.info("earnings cap reached: %d bid(s) withdrawn", n)
        status = CapStatus.of(st, bid_withdrawn=self._withdrawn, serving_free=free)
        self.status = status
        self.report(status)
        return status

    async def _loop(self) -> None:
        while True:
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except UserFacingError as exc:
                log.warning("earnings cap check: %s", exc.detail or exc.message)
            except Exception as exc:  # a node hiccup must not stop serving
                log.warning("earnings cap check: %s: %s", type(exc).__name__, exc)
            await asyncio.sleep(self.every)

    def start(self) -> None:
        self._withdrawn = False
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
