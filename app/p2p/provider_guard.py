"""Admission control for the provider: cheap checks that keep strangers from costing anything.

- ``TokenBuckets``: request rates per key (an IP as a wide ceiling, a user address as the real
  limit), with a bounded table so a flood of keys cannot grow memory.
- ``ConnectionCounter``: connections per IP that have not yet authenticated; a gateway's
  connections authenticate in milliseconds, a slow-loris holds them, so only those are capped.
- ``ReplayCache``: signatures already accepted (r‖s; Go's verifier ignores v), each kept until a
  caller-chosen time (a prompt's until its session ends), bounded by ``capacity``.
- ``NegativeCache``: bids that are not ours or do not exist, so random bid ids do not each cost a
  chain read.
"""

from __future__ import annotations

from collections import OrderedDict


class TokenBuckets:
    def __init__(self, rate: float, burst: int, *, max_keys: int = 50_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, key: str, now: float) -> bool:
        tokens, last = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > self.max_keys:  # the least recently seen key forgets its debt
            self._buckets.popitem(last=False)
        return allowed


class ConnectionCounter:
    def __init__(self, per_key: int) -> None:
        self.per_key = per_key
        self._counts: dict[str, int] = {}

    def try_acquire(self, key: str) -> bool:
        n = self._counts.get(key, 0)
        if n >= self.per_key:
            return False
        self._counts[key] = n + 1
        return True

    def release(self, key: str) -> None:
        n = self._counts.get(key, 0) - 1
        if n > 0:
            self._counts[key] = n
        else:
            self._counts.pop(key, None)

    def count(self, key: str) -> int:
        return self._counts.get(key, 0)


class ReplayCache:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._until: OrderedDict[bytes, float] = OrderedDict()

    @staticmethod
    def marker(signature: bytes) -> bytes:
        return bytes(signature[:64])

    def seen(self, signature: bytes, now: float) -> bool:
        until = self._until.get(self.marker(signature))
        return until is not None and until > now

    def remember(self, signature: bytes, until: float, now: float) -> None:
        marker = self.marker(signature)
        self._until.pop(marker, None)
        self._until[marker] = until
        if len(self._until) > self.capacity:
            for key in [k for k, t in self._until.items() if t <= now]:
                del self._until[key]
            while len(self._until) > self.capacity:
                self._until.popitem(last=False)

    def extend(self, signature: bytes, until: float) -> None:
        marker = self.marker(signature)
        if marker in self._until:
            self._until[marker] = max(self._until[marker], until)

    def __len__(self) -> int:
        return len(self._until)


class NegativeCache:
    def __init__(self, ttl_s: float, capacity: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.capacity = capacity
        self._until: OrderedDict[bytes, float] = OrderedDict()

    def hit(self, key: bytes, now: float) -> bool:
        until = self._until.get(key)
        if until is None:
            return False
        if until <= now:
            del self._until[key]
            return False
        return True

    def add(self, key: bytes, now: float) -> None:
        self._until.pop(key, None)
        self._until[key] = now + self.ttl_s
        while len(self._until) > self.capacity:
            self._until.popitem(last=False)
