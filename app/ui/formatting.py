"""How amounts, prices, durations and times read in the window: one place for every page."""

from __future__ import annotations

from datetime import datetime

from app.wallet.units import format_amount

SECONDS_PER_HOUR = 3600


def mor(wei: int, digits: int = 4) -> str:
    return f"{format_amount(wei, 18, digits)} MOR"


def mor_per_hour(price_per_second: int) -> str:
    """An offer's price (per second on chain) as people compare it."""
    return f"{format_amount(price_per_second * SECONDS_PER_HOUR, 18, 4)} MOR/hour"


def hms(seconds: int) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def local_time(timestamp: int) -> str:
    """A chain timestamp as the user's local date and time."""
    return datetime.fromtimestamp(timestamp).astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()


def duration_text(seconds: int) -> str:
    h, m = divmod(max(0, seconds) // 60, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min"


def when_text(ts: float) -> str:
    """A local wall-clock moment to the second ("—" when there is none)."""
    if not ts:
        return "—"
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
