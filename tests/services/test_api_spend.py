"""The local API's daily staking ledger: counts per UTC day, survives a restart, starts from zero
on a new day or a damaged file, and refuses plainly past the limit (or at a limit of 0)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.services.api_spend import SpendingLimitReached, SpendLedger

MOR = 10**18
NOON = 1_796_299_200  # 2026-12-03 12:00 UTC


def test_counts_per_utc_day_and_survives_a_restart(tmp_path: Path) -> None:
    now = [float(NOON)]
    path = tmp_path / "api_spending.json"
    ledger = SpendLedger(path, clock=lambda: now[0])
    assert ledger.spent_today() == 0
    ledger.add(3 * MOR)
    assert SpendLedger(path, clock=lambda: now[0]).add(2 * MOR) == 5 * MOR  # a new process
    assert ledger.spent_today() == 5 * MOR
    if os.name == "posix":
        assert path.stat().st_mode & 0o777 == 0o600
    now[0] += 12 * 3600  # past UTC midnight
    assert ledger.spent_today() == 0


def test_limit_refuses_plainly(tmp_path: Path) -> None:
    ledger = SpendLedger(tmp_path / "s.json", clock=lambda: float(NOON))
    ledger.add(4 * MOR)
    ledger.check(MOR, 5 * MOR)  # exactly at the limit is allowed
    with pytest.raises(SpendingLimitReached) as err:
        ledger.check(MOR + 1, 5 * MOR)
    assert "daily limit of 5 MOR (4 MOR already staked today)" in err.value.message
    with pytest.raises(SpendingLimitReached) as err:
        ledger.check(0, 0)
    assert "limit is 0 MOR" in err.value.message


@pytest.mark.parametrize("content", [b"", b"{not json", b"[1,2]", b'{"day": 5}',
                                     b'{"day": "2026-12-03", "staked_wei": "lots"}',
                                     b"[" * 10_000])
def test_a_damaged_file_counts_from_zero(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "s.json"
    path.write_bytes(content)
    ledger = SpendLedger(path, clock=lambda: float(NOON))
    assert ledger.spent_today() == 0
    assert ledger.add(MOR) == MOR
