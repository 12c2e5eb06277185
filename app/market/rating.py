"""Bid rating, the consumer-side ranking of spec §7.

It mirrors what the reference consumer does so that our choice of provider is the one users of the
network expect: five weighted component scores, divided by the price in MOR per second, so a
cheaper bid with the same quality wins. Pure functions over domain types; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from app.market.types import (
    EMPTY_MODEL_STATS,
    EMPTY_PROVIDER_MODEL_STATS,
    SD,
    Bid,
    MarketSnapshot,
    ModelStats,
    ProviderModelStats,
)

WEI_PER_MOR = 10**18


@dataclass(frozen=True)
class Weights:
    tps: float = 0.24
    ttft: float = 0.08
    duration: float = 0.24
    success: float = 0.32
    stake: float = 0.12

    def validate(self) -> None:
        """The reference node demands the weights sum to exactly 1.0 (float ``==``)."""
        total = self.tps + self.ttft + self.duration + self.success + self.stake
        if total != 1.0:
            raise ValueError(f"rating weights must sum to 1.0, got {total}")


DEFAULT_WEIGHTS = Weights()


@dataclass(frozen=True)
class RatedBid:
    bid: Bid
    score: float  # final score: weighted total / price in MOR per second
    total: float  # weighted total before the price division


def go_int64(value: int) -> int:
    """What Go's ``big.Int.Int64()`` returns: the low 64 bits of |x|, as int64, sign re-applied.

    Stakes above ~9.22 MOR do not fit and wrap; the reference scorer lives with that (§8 #19),
    and so do we, to rank the same way.
    """
    low = abs(value) & 0xFFFF_FFFF_FFFF_FFFF
    as_signed = low - (1 << 64) if low >= (1 << 63) else low
    return -as_signed if value < 0 else as_signed


def sd(stat: SD, count: int) -> float:
    if count <= 1:
        return 0.0
    variance = stat.sq_sum / (count - 1)
    return math.sqrt(variance) if variance > 0 else 0.0


def z_score(value: float, stat: SD, count: int) -> float:
    spread = sd(stat, count)
    if spread == 0:
        return 0.0
    return (value - stat.mean) / spread


def normalize_z(z: float) -> float:
    return min(1.0, max(0.0, (z + 3.0) / 6.0))


def stake_score(stake: int, min_stake: int) -> float:
    lo = go_int64(min_stake)
    hi = go_int64(min_stake * 10)
    value = go_int64(stake)
    if hi == lo:
        return 0.0
    return min(1.0, max(0.0, (value - lo) / (hi - lo)))


def success_score(stats: ProviderModelStats) -> float:
    if stats.total_count == 0:
        return 0.0
    return float((stats.success_count / stats.total_count) ** 2)


def component_total(
    pm: ProviderModelStats,
    ms: ModelStats,
    stake: int,
    min_stake: int,
    weights: Weights = DEFAULT_WEIGHTS,
) -> float:
    """Weighted sum of the five components for one provider on one model."""
    if pm.total_count == 0:
        tps = ttft = duration = 0.5  # no history: neutral on every z-based component
    else:
        n = ms.count
        tps = normalize_z(z_score(pm.tps_scaled1000.mean, ms.tps_scaled1000, n))
        ttft = normalize_z(-z_score(pm.ttft_ms.mean, ms.ttft_ms, n))
        duration = normalize_z(z_score(pm.total_duration, ms.total_duration, n))
    return (
        weights.tps * tps
        + weights.ttft * ttft
        + weights.duration * duration
        + weights.success * success_score(pm)
        + weights.stake * stake_score(stake, min_stake)
    )


def rate_bids(
    bids: Iterable[Bid],
    *,
    provider_stakes: Mapping[str, int],
    provider_model_stats: Mapping[tuple[str, str], ProviderModelStats],
    model_stats: Mapping[str, ModelStats],
    provider_min_stake: int,
    weights: Weights = DEFAULT_WEIGHTS,
    allowlist: Iterable[str] = (),
) -> list[RatedBid]:
    """Rank bids best first. Bids from providers outside a non-empty allowlist are dropped,
    as are bids whose score is NaN/inf (e.g. a zero price)."""
    weights.validate()
    allowed = {a.lower() for a in allowlist}
    rated: list[RatedBid] = []
    for bid in bids:
        if allowed and bid.provider.lower() not in allowed:
            continue
        pm = provider_model_stats.get((bid.model_id, bid.provider), EMPTY_PROVIDER_MODEL_STATS)
        ms = model_stats.get(bid.model_id, EMPTY_MODEL_STATS)
        total = component_total(
            pm, ms, provider_stakes.get(bid.provider, 0), provider_min_stake, weights
        )
        price_mor = bid.price_per_second / WEI_PER_MOR
        try:
            final = total / price_mor
        except ZeroDivisionError:
            continue
        if math.isnan(final) or math.isinf(final):
            continue
        rated.append(RatedBid(bid=bid, score=final, total=total))
    rated.sort(key=lambda r: r.score, reverse=True)
    return rated


def rate_market(
    snapshot: MarketSnapshot,
    model_id: str,
    *,
    weights: Weights = DEFAULT_WEIGHTS,
    allowlist: Iterable[str] = (),
    exclude: Iterable[str] = (),
) -> list[RatedBid]:
    """Rank one model's bids from a loaded market; ``exclude`` drops providers such as the
    user's own address or one that just failed (the reference node's ``omitProvider``)."""
    if snapshot.params is None:
        raise ValueError("the snapshot has no market parameters")
    skip = {a.lower() for a in exclude}
    bids = [b for b in snapshot.bids_for_model(model_id) if b.provider.lower() not in skip]
    return rate_bids(
        bids,
        provider_stakes={a: p.stake for a, p in snapshot.providers.items()},
        provider_model_stats=snapshot.provider_model_stats,
        model_stats=snapshot.model_stats,
        provider_min_stake=snapshot.params.provider_min_stake,
        weights=weights,
        allowlist=allowlist,
    )
