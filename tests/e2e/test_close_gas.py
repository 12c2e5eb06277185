"""A close made right after the open: its gas is estimated in the block second the session
opened (the provider earns nothing yet, nothing is held), but it lands a second later, when
closeSession pays the provider and holds the day's part. It must still have the gas for that."""

from __future__ import annotations

from typing import Any

import pytest

from app.storage.jobs import JobState
from tests.e2e.conftest import Market

pytestmark = pytest.mark.asyncio(loop_scope="session")

PRICE = 10**13


async def test_a_close_estimated_in_the_opening_second_still_has_its_gas(
    market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    bid_id = await market.provider.go_online(PRICE)
    opened = await market.consumer.open_session(bid_id, 600)
    sid = opened.record.session_id
    opened_at = (await market.c.chain.get_session(sid)).opened_at
    tx = market.c.chain.tx
    estimate = tx.estimate_gas

    async def in_the_opening_second(*args: Any, **kwargs: Any) -> int:
        # The chain's clock, not a stand-in: the estimate runs at the open's timestamp, the
        # transaction is mined one second later.
        market.devnet.rpc("evm_setNextBlockTimestamp", [opened_at])
        gas = await estimate(*args, **kwargs)
        market.devnet.rpc("evm_setNextBlockTimestamp", [opened_at + 1])
        return gas

    monkeypatch.setattr(tx, "estimate_gas", in_the_opening_second)
    closed = await market.consumer.close_session(sid)

    after = await market.c.chain.get_session(sid)
    assert after.closed_at == opened_at + 1 and not after.is_active
    assert after.closeout_type == 0
    assert closed.refunded > 0
    job = market.c.runner.store.get(f"close:{sid}")
    assert job is not None and job.state is JobState.DONE and len(job.tx_hashes) == 1
