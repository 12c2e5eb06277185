"""Words and numbers of the Share page, kept apart from the widgets so they can be read (and
tested) on their own. Money arrives as int wei and leaves as exact decimal text."""

from __future__ import annotations

import datetime as dt
import re

from app.errors import UserFacingError
from app.services.provider_service import CheckStatus, ProviderDashboard, ProviderState
from app.wallet.units import format_amount, parse_amount

HOUR = 3600
STATUS_TEXT = {CheckStatus.OK: "✓ OK", CheckStatus.WARN: "! Check", CheckStatus.FAIL: "✗ Fix"}
STATUS_COLOR = {CheckStatus.OK: "#2e7d32", CheckStatus.WARN: "#b26a00", CheckStatus.FAIL: "#c62828"}
# What to do about an item that is not OK (the detail already says what is missing).
FIX_ADVICE = {
    "wallet": "Unlock your wallet on the Wallet page.",
    "gas": "Send some ETH to your wallet address (Wallet page → Receive) to pay network fees.",
    "mor": "Send MOR to your wallet address (Wallet page → Receive). The offer fee is spent; the "
           "stakes are locked while you are registered (the confirmation says how they return).",
    "model": "Pick or download a model on the Settings page.",
    "bench": "The model could not run a short test; see the log for details.",
    "reach": "",
    "price": "Enter a price inside the network's allowed range.",
}


# The checklist's names for its items where the service's use a developer's word.
CHECK_LABELS = {
    "gas": "ETH for network fees",
    "mor": "MOR for the provider stake and offer fee",
}
# Phrases from the services, as the window says them (technical detail stays in the log).
_PLAIN = (
    (re.compile(r"\s*\(\d+ wei/s\)"), ""),
    (re.compile(r"\bbid fee\b"), "offer fee"),
    (re.compile(r"\bETH for gas\b"), "ETH for network fees"),
    (re.compile(r"\bthe bid\b"), "your offer"),
    (re.compile(r"\bbids\b"), "offers"),
    (re.compile(r"\bbid\b"), "offer"),
    (re.compile(r"\bgas\b"), "network fee"),
    (re.compile(r"\bRPC\b"), "connection"),
)


def plain(text: str) -> str:
    """A sentence from the services with the developer's words replaced (bid → offer, gas →
    network fee, a raw per-second price dropped next to its per-hour one)."""
    for pattern, words in _PLAIN:
        text = pattern.sub(words, text)
    return text


def mor(wei: int, places: int = 6) -> str:
    return f"{format_amount(wei, 18, places)} MOR"


def mor_per_hour(price_per_second: int) -> str:
    """Display only: a price per second (as on chain) as MOR per hour (exact decimal, rounded
    down)."""
    return f"{format_amount(price_per_second * HOUR, 18, 6)} MOR/hour"


def per_second_from_hour_text(text: str) -> int:
    """"1.8" MOR per hour → wei per second (rounded down to what the contract can store)."""
    per_hour = parse_amount(text, 18, "MOR")
    if per_hour < HOUR:
        raise UserFacingError("The price is too small: the contract counts whole units of "
                              "MOR per second. Enter a larger price per hour.")
    return per_hour // HOUR


def per_thousand_tokens(price_per_second: int, tokens_per_s: float) -> str:
    """What 1,000 generated tokens cost a user at this price and the measured speed."""
    if tokens_per_s <= 0:
        return ""
    wei = int(price_per_second * 1000 / tokens_per_s)
    return f"≈ {mor(wei)} per 1,000 tokens at the measured {tokens_per_s:.0f} tokens/s"


def date_text(t: int) -> str:
    return f"{dt.datetime.fromtimestamp(t, dt.UTC):%Y-%m-%d}"


def cap_sentence(stake: int, until: int) -> str:
    """The earnings cap, as the contract applies it (spec §3.11)."""
    return (f"With a stake of {format_amount(stake)} MOR you can earn at most "
            f"{format_amount(stake)} MOR until {date_text(until)}.")


def hours_covered(stake: int, price_per_second: int) -> str:
    if price_per_second <= 0:
        return ""
    hours = stake / (price_per_second * HOUR)
    return (f"At your price that is about {hours:,.1f} hours of sessions; stake more if you "
            "expect more use.")


def deregister_refund(stake: int, period_earned: int, period_end: int, now: int) -> int:
    """What ``providerDeregister`` pays back: everything once the 365-day earnings period is
    over, else the stake minus what was earned in the period (the contract keeps that part)."""
    return stake if now > period_end else max(0, stake - period_earned)


def uptime_text(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def state_text(d: ProviderDashboard) -> str:
    if d.state is ProviderState.OFF:
        return "Off"
    if d.state is ProviderState.STARTING:
        return f"Starting… {plain(d.step)}".rstrip()
    if d.state is ProviderState.WAITING:
        return "Waiting for users"
    if d.state is ProviderState.SERVING:
        n = len(d.active_sessions)
        return f"Serving {n} session{'s' if n != 1 else ''}"
    if d.state is ProviderState.STOPPING:
        return "Stopping…"
    return f"Error: {plain(d.error)}"
