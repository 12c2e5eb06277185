"""What the local API staked on network models today, against the daily limit from Settings.

Why count stake: a session's stake is what leaves the wallet when the API opens one on its own
(most of it comes back at the close, today's share the next UTC day), so it is the amount a user
wants bounded when any tool on this computer may start sessions. Kept in a small owner-only file
so a restart does not reset the day's total.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.errors import UserFacingError
from app.fileio import atomic_write_text
from app.p2p.errors import ProtocolError
from app.p2p.framing import loads_bounded

log = logging.getLogger(__name__)


class SpendingLimitReached(UserFacingError):
    """Opening one more session would pass the API's daily limit."""


def api_ledger(paths: Any) -> SpendLedger:
    """The ledger of the local API in this data folder (read by Settings and Activity too)."""
    return SpendLedger(paths.data / "api_spending.json")


def mor(wei: int) -> str:
    return f"{wei / 10**18:.4f}".rstrip("0").rstrip(".") + " MOR"


class SpendLedger:
    """``ledger.check(stake, limit)`` before staking, ``ledger.add(stake)`` once staked."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock

    def _today(self) -> str:
        return dt.datetime.fromtimestamp(self.clock(), dt.UTC).date().isoformat()

    def spent_today(self) -> int:
        try:
            data = loads_bounded(self.path.read_bytes())
        except FileNotFoundError:
            return 0
        except (OSError, ProtocolError) as exc:
            log.warning("API spending file unreadable (%s); counting from zero", exc)
            return 0
        if not isinstance(data, dict) or data.get("day") != self._today():
            return 0
        value = data.get("staked_wei")
        try:
            return max(0, int(value)) if isinstance(value, str | int) else 0
        except ValueError:
            return 0

    def add(self, wei: int) -> int:
        total = self.spent_today() + wei
        atomic_write_text(
            self.path, f'{{"day": "{self._today()}", "staked_wei": "{total}"}}\n', mode=0o600
        )
        return total

    def check(self, wei: int, limit: int) -> None:
        spent = self.spent_today()
        if limit <= 0:
            raise SpendingLimitReached(
                "The local API may not open sessions on the Morpheus network: its daily spending "
                "limit is 0 MOR. Raise it in Morpheus Desktop's Settings."
            )
        if spent + wei > limit:
            raise SpendingLimitReached(
                f"This request needs a new session staking {mor(wei)}, which would pass the "
                f"local API's daily limit of {mor(limit)} ({mor(spent)} already staked today). "
                "Raise the limit in Morpheus Desktop's Settings or wait for the next UTC day."
            )
