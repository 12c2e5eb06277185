"""A small password strength meter: an entropy estimate with penalties for the usual weak patterns.

It is deliberately simple (no dictionary download): it rewards length and variety, and punishes
repeats, sequences and the passwords everyone tries first.
"""

from __future__ import annotations

import itertools
import math
import re
import string
from dataclasses import dataclass

MIN_LENGTH = 8
_COMMON = frozenset(
    [
        "password",
        "passw0rd",
        "123456",
        "12345678",
        "123456789",
        "qwerty",
        "qwertyuiop",
        "letmein",
        "welcome",
        "admin",
        "iloveyou",
        "monkey",
        "dragon",
        "football",
        "baseball",
        "abc123",
        "111111",
        "000000",
        "sunshine",
        "princess",
        "master",
        "login",
        "trustno1",
        "morpheus",
        "ethereum",
        "bitcoin",
        "wallet",
        "secret",
        "changeme",
    ]
)
LABELS = ("very weak", "weak", "fair", "strong", "very strong")


@dataclass(frozen=True)
class Strength:
    score: int  # 0..4
    bits: float
    label: str
    hint: str

    @property
    def acceptable(self) -> bool:
        return self.score >= 2


def _pool(pw: str) -> int:
    pool = 0
    if any(c in string.ascii_lowercase for c in pw):
        pool += 26
    if any(c in string.ascii_uppercase for c in pw):
        pool += 26
    if any(c in string.digits for c in pw):
        pool += 10
    if any(c in string.punctuation or c == " " for c in pw):
        pool += 33
    if any(ord(c) > 127 for c in pw):
        pool += 100
    return max(pool, 1)


def _sequence_runs(pw: str) -> int:
    """Characters that continue an ascending/descending run (abc, 321) or repeat."""
    n = 0
    for a, b in itertools.pairwise(pw):
        if abs(ord(b) - ord(a)) <= 1:
            n += 1
    return n


def estimate_strength(pw: str) -> Strength:
    if not pw:
        return Strength(0, 0.0, LABELS[0], "Choose a password.")
    lowered = pw.lower()
    stripped = re.sub(r"[\d\W_]+$", "", lowered)
    if lowered in _COMMON or stripped in _COMMON:
        return Strength(0, 0.0, LABELS[0], "This is one of the first passwords attackers try.")
    effective = len(pw) - _sequence_runs(pw) * 0.75
    effective -= (len(pw) - len(set(pw))) * 0.25
    bits = max(effective, 1.0) * math.log2(_pool(pw))
    if len(pw) < MIN_LENGTH:
        score = 0 if bits < 20 else 1
        hint = f"Use at least {MIN_LENGTH} characters."
    else:
        score = 1 if bits < 40 else 2 if bits < 60 else 3 if bits < 80 else 4
        hint = (
            "Add more words or characters."
            if score < 2
            else "Good. A longer phrase would be even better."
            if score < 4
            else "Excellent."
        )
    return Strength(score, round(bits, 1), LABELS[score], hint)
