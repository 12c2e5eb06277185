"""``ChainClient``: typed async reads and writes of the Morpheus Diamond and the MOR token.

Reads return ``app.market.types``; many reads are folded into Multicall3 ``aggregate3`` calls
sent together in one JSON-RPC batch, so loading the whole marketplace costs a handful of HTTP
round trips. Writes go through ``TxManager`` (simulate, exact approvals, nonce lock, fee bumps)
and accept ``on_sent`` so the caller can persist every hash before waiting for it.

The class is assembled from its parts, one file each: :mod:`app.chain.reader` (connection,
batched calls, getters), :mod:`app.chain.views` (parameters, economics, history, the whole
market), :mod:`app.chain.writer` (transactions) and :mod:`app.chain.decode` (result types).
"""

from __future__ import annotations

from app.chain.decode import (
    BATCH_LIMIT,
    MULTICALL_CHUNK,
    PAGE,
    Call,
    FeeEstimate,
    MorTransfer,
    bid_from,
    model_from,
    model_stats_from,
    pm_stats_from,
    provider_from,
    session_from,
)
from app.chain.networks import Network
from app.chain.tx import TxPolicy
from app.chain.writer import ChainWriter


class ChainClient(ChainWriter):
    """One network's chain: reads (batched), market views and writes, behind one object."""

    @classmethod
    async def connected(cls, network: Network, *, policy: TxPolicy | None = None,
                        market: bool = True) -> ChainClient:
        """A client that has passed ``connect``; closed again when it has not, so its HTTP
        session never outlives the failure."""
        client = cls(network, policy=policy)
        try:
            await client.connect(market=market)
        except BaseException:
            await client.close()
            raise
        return client


__all__ = [
    "BATCH_LIMIT", "MULTICALL_CHUNK", "PAGE", "Call", "ChainClient", "FeeEstimate", "MorTransfer",
    "bid_from", "model_from", "model_stats_from", "pm_stats_from", "provider_from",
    "session_from",
]
