"""Quit while going online, after the bid was broadcast but before it was mined: the bid must not
be left on chain for consumers to stake on a node that is gone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.chain.abi import DIAMOND
from app.chain.tx import TxManager
from tests.e2e.conftest import Market

pytestmark = pytest.mark.asyncio(loop_scope="session")

PRICE = 5 * 10**14  # wei per second


async def test_a_bid_mined_after_going_online_was_cut_short_is_deleted_at_quit(
    market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider, devnet, chain = market.provider, market.devnet, market.p.chain
    original = TxManager._broadcast
    bid_broadcast = asyncio.Event()

    async def broadcast(self: TxManager, raw: bytes, tx_hash: str, tx: dict[str, Any],
                        nm: Any) -> str:
        if bytes(tx["data"])[:4] == DIAMOND["postModelBid"].selector:
            devnet.rpc("evm_setAutomine", [False])  # the bid waits in the pool
            result = await original(self, raw, tx_hash, tx, nm)
            bid_broadcast.set()
            return result
        return await original(self, raw, tx_hash, tx, nm)

    monkeypatch.setattr(TxManager, "_broadcast", broadcast)
    going = asyncio.ensure_future(provider.go_online(PRICE))
    sent = asyncio.ensure_future(bid_broadcast.wait())
    try:
        await asyncio.wait([going, sent], timeout=60, return_when=asyncio.FIRST_COMPLETED)
        assert bid_broadcast.is_set(), going.exception() if going.done() else "bid never sent"
        going.cancel()  # the user quits now, while the bid is pending
        with pytest.raises(asyncio.CancelledError):
            await going
        assert provider.server is None and provider.has_unsettled_setup()
        assert await chain.provider_active_bid_ids(provider.me) == []

        quitting = asyncio.ensure_future(provider.leave_nothing_online())
        devnet.rpc("evm_setAutomine", [True])
        devnet.rpc("evm_mine", [])  # the bid is mined after the cut
        await asyncio.wait_for(quitting, 60)
    finally:
        devnet.rpc("evm_setAutomine", [True])
        sent.cancel()

    assert await chain.provider_active_bid_ids(provider.me) == [], "the bid was left on chain"
    assert not provider.has_unsettled_setup()
