"""Request timestamps: unique per signer, and back to the real time after a clock correction
(a provider that checks timestamps would otherwise refuse every request as dated in the future)."""

from __future__ import annotations

import pytest

from app.p2p import consumer_client
from app.p2p.consumer_client import ProviderClient
from app.p2p.keys import LocalKey


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def time(self) -> float:
        return self.t


def test_timestamps_follow_a_clock_set_back(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(1_800_000_000.0)
    monkeypatch.setattr(consumer_client.time, "time", clock.time)
    client = ProviderClient("127.0.0.1:1", LocalKey.generate(), "0x" + "11" * 20, chain_id=1)
    first, second = client._now_ms(), client._now_ms()
    assert second > first  # same millisecond: still two different signed messages
    clock.t -= 3600  # the clock was an hour ahead and got corrected
    corrected = client._now_ms()
    assert corrected == int(clock.t * 1000)
    clock.t += 0.0005  # a sub-second step back-and-forth keeps the order strict
    assert client._now_ms() > corrected
