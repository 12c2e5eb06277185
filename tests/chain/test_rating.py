"""Bid rating (spec §7): components, price division, the Int64 stake quirk, filtering."""

from __future__ import annotations

import math

import pytest

from app.market.rating import (
    DEFAULT_WEIGHTS,
    Weights,
    component_total,
    go_int64,
    rate_bids,
    rate_market,
    stake_score,
)
from app.market.types import (
    SD,
    Bid,
    MarketParams,
    MarketSnapshot,
    ModelStats,
    Provider,
    ProviderModelStats,
)

MIN = 10**17
MODEL = "0x" + "aa" * 32
A, B, C = ("0x" + c * 40 for c in ("1", "2", "3"))


def bid(provider: str, price: int, n: int = 0) -> Bid:
    return Bid(f"0x{n:064x}", provider, MODEL, price, 0, 1, 0)


NO_HISTORY = ProviderModelStats(SD(0, 0), SD(0, 0), 0, 0, 0)
EMPTY_MODEL = ModelStats(SD(0, 0), SD(0, 0), SD(0, 0), 0)


def test_new_provider_scores_neutral() -> None:
    total = component_total(NO_HISTORY, EMPTY_MODEL, MIN, MIN)
    assert total == pytest.approx(0.24 * 0.5 + 0.08 * 0.5 + 0.24 * 0.5)
    rated = rate_bids([bid(A, 10**13)], provider_stakes={A: MIN}, provider_model_stats={},
                      model_stats={}, provider_min_stake=MIN)
    assert rated[0].score == pytest.approx(0.28 / 1e-5)


def test_z_scores_and_success() -> None:
    ms = ModelStats(tps_scaled1000=SD(1000, 800), ttft_ms=SD(300, 800),
                    total_duration=SD(5000, 800), count=3)  # sd = sqrt(800/2) = 20 for each
    pm = ProviderModelStats(tps_scaled1000=SD(1040, 0), ttft_ms=SD(280, 0), total_duration=5000,
                            success_count=3, total_count=4)
    total = component_total(pm, ms, MIN, MIN)
    tps = (2 + 3) / 6  # z = +2
    ttft = (1 + 3) / 6  # z = -1, inverted: lower is better
    duration = 0.5  # z = 0
    success = (3 / 4) ** 2
    assert total == pytest.approx(0.24 * tps + 0.08 * ttft + 0.24 * duration + 0.32 * success)


def test_far_outliers_are_clamped() -> None:
    ms = ModelStats(SD(1000, 800), SD(300, 800), SD(5000, 800), 3)
    fast = ProviderModelStats(SD(10**6, 0), SD(0, 0), 10**6, 1, 1)
    total = component_total(fast, ms, MIN, MIN)
    assert total == pytest.approx(0.24 + 0.08 + 0.24 + 0.32)


def test_cheaper_bid_ranks_first_in_proportion() -> None:
    rated = rate_bids([bid(A, 2 * 10**13, 1), bid(B, 10**13, 2)],
                      provider_stakes={A: MIN, B: MIN}, provider_model_stats={},
                      model_stats={}, provider_min_stake=MIN)
    assert [r.bid.provider for r in rated] == [B, A]
    assert rated[0].score == pytest.approx(2 * rated[1].score)


def test_stake_score_and_int64_quirk() -> None:
    assert stake_score(MIN, MIN) == 0
    assert stake_score(55 * 10**16, MIN) == pytest.approx(0.5)
    assert stake_score(9 * 10**18, MIN) == 1.0  # above 10×min: clamped
    # 10 MOR does not fit in int64: Go's Int64() wraps it negative, so it scores 0
    assert go_int64(10**19) == 10**19 - 2**64 < 0
    assert stake_score(10**19, MIN) == 0.0
    assert go_int64(-5) == -5 and go_int64(2**63 - 1) == 2**63 - 1


def test_allowlist_zero_price_and_weights() -> None:
    bids = [bid(A, 10**13, 1), bid(B, 0, 2), bid(C, 10**13, 3)]
    rated = rate_bids(bids, provider_stakes={}, provider_model_stats={}, model_stats={},
                      provider_min_stake=MIN, allowlist=[A.upper().replace("0X", "0x"), B])
    assert [r.bid.provider for r in rated] == [A]  # C not allowed, B's zero price is dropped
    with pytest.raises(ValueError, match=r"sum to 1\.0"):
        rate_bids(bids, provider_stakes={}, provider_model_stats={}, model_stats={},
                  provider_min_stake=MIN, weights=Weights(tps=0.5))
    assert math.isclose(sum(vars(DEFAULT_WEIGHTS).values()), 1.0)


def test_rate_market_uses_snapshot_and_excludes() -> None:
    def prov(addr: str, stake: int) -> Provider:
        return Provider(addr, "h:1", stake, 1, 2, 0, False)

    snap = MarketSnapshot(
        models=(), bids=(bid(A, 10**13, 1), bid(B, 10**13, 2), bid(C, 10**13, 3)),
        providers={A: prov(A, MIN), B: prov(B, 10 * MIN), C: prov(C, MIN)},
        params=MarketParams(MIN, MIN, 0, 1, 10**20, 604800),
    )
    rated = rate_market(snap, MODEL, exclude=[C.upper().replace("0X", "0x")])
    assert [r.bid.provider for r in rated] == [B, A]  # B's larger stake wins; C excluded
    assert rated[0].total - rated[1].total == pytest.approx(0.12)
