"""The chain client's market views: parameters and economics, fees, MOR history, transaction
status, and the whole market in a few batched round trips."""



from eth_utils import to_checksum_address

from app.chain import abi
from app.chain.abi import DIAMOND, ERC20
from app.chain.decode import (
    PAGE,
    Call,
    FeeEstimate,
    MorTransfer,
    model_from,
    model_stats_from,
    pm_stats_from,
    provider_from,
)
from app.chain.errors import (
    ChainError,
)
from app.chain.reader import ChainReader
from app.chain.rpc import EthRpcError
from app.chain.tx import TxReceipt
from app.market.types import (
    MarketParams,
    MarketSnapshot,
    Model,
    ModelStats,
    OnHold,
    Pool,
    Provider,
    id_bytes,
    id_hex,
)


class MarketViews(ChainReader):
    # -- parameters and economics -------------------------------------------------------------

    async def provider_min_stake(self) -> int:
        return int((await self._d("getProviderMinimumStake"))[0])

    async def model_min_stake(self) -> int:
        return int((await self._d("getModelMinimumStake"))[0])

    async def bid_fee(self) -> int:
        return int((await self._d("getBidFee"))[0])

    async def price_range(self) -> tuple[int, int]:
        lo, hi = await self._d("getMinMaxBidPricePerSecond")
        return int(lo), int(hi)

    async def max_session_duration(self) -> int:
        return int((await self._d("getMaxSessionDuration"))[0])

    async def market_params(self) -> MarketParams:
        d = self.diamond
        r = await self._many([
            Call(d, DIAMOND["getProviderMinimumStake"]), Call(d, DIAMOND["getModelMinimumStake"]),
            Call(d, DIAMOND["getBidFee"]), Call(d, DIAMOND["getMinMaxBidPricePerSecond"]),
            Call(d, DIAMOND["getMaxSessionDuration"]),
        ])
        return MarketParams(r[0][0], r[1][0], r[2][0], r[3][0], r[3][1], r[4][0])

    async def todays_budget(self, timestamp: int) -> int:
        return int((await self._d("getTodaysBudget", timestamp))[0])

    async def compute_balance(self, timestamp: int) -> int:
        return int((await self._d("getComputeBalance", timestamp))[0])

    async def total_mor_supply(self, timestamp: int) -> int:
        return int((await self._d("totalMORSupply", timestamp))[0])

    async def stake_to_stipend(self, amount: int, timestamp: int) -> int:
        return int((await self._d("stakeToStipend", amount, timestamp))[0])

    async def stipend_to_stake(self, stipend: int, timestamp: int) -> int:
        return int((await self._d("stipendToStake", stipend, timestamp))[0])

    async def session_end(self, amount: int, price_per_second: int, opened_at: int) -> int:
        return int((await self._d("getSessionEnd", amount, price_per_second, opened_at))[0])

    async def pools(self) -> list[Pool]:
        (items,) = await self._d("getPools")
        return [Pool(*p) for p in items]

    async def funding_account(self) -> str:
        return to_checksum_address((await self._d("getFundingAccount"))[0])

    async def providers_total_claimed(self) -> int:
        return int((await self._d("getProvidersTotalClaimed"))[0])

    async def user_stakes_on_hold(self, user: str) -> OnHold:
        available, hold = await self._d("getUserStakesOnHold", to_checksum_address(user), 255)
        return OnHold(int(available), int(hold))

    async def is_approval_used(self, approval: bytes) -> bool:
        return bool((await self._d("getIsProviderApprovalUsed", approval))[0])

    async def latest_timestamp(self) -> int:
        block = await self.rpc.request("eth_getBlockByNumber", ["latest", False])
        return int(block["timestamp"], 16)

    async def mor_decimals(self) -> int:
        (value,) = await self.call(ERC20["decimals"], to=self.token)
        return int(value)

    async def estimate_fee(self, asset: str, sender: str, to: str, amount: int) -> FeeEstimate:
        """What sending ``amount`` of ``asset`` ("ETH" or "MOR") would cost at most in ETH."""
        sender, to = to_checksum_address(sender), to_checksum_address(to)
        target: str
        if asset == "ETH":
            target, data, value = to, b"", amount
        else:
            target, data, value = self.token, ERC20["transfer"].encode(to, amount), 0
        gas = await self.tx.estimate_gas(sender, target, data, value)
        max_fee, tip = await self.tx.fees()
        return FeeEstimate(gas, max_fee, tip)

    async def mor_transfers(self, address: str, *, blocks: int = 50_000) -> list[MorTransfer]:
        """MOR ``Transfer`` events to or from ``address`` in the last ``blocks`` blocks, newest
        first: the wallet's history, including what others sent and what the Diamond returned."""
        latest = await self.block_number()
        start = hex(max(0, latest - blocks))
        padded = "0x" + "0" * 24 + to_checksum_address(address).lower()[2:]
        base = {"address": self.token, "fromBlock": start, "toBlock": "latest"}
        answers = await self.rpc.batch([
            ("eth_getLogs", [{**base, "topics": [abi.ERC20_TRANSFER, padded]}]),
            ("eth_getLogs", [{**base, "topics": [abi.ERC20_TRANSFER, None, padded]}]),
        ])
        seen: set[tuple[str, int]] = set()
        out: list[MorTransfer] = []
        for answer in answers:
            if isinstance(answer, EthRpcError):
                raise ChainError("The network node refused to list token transfers.",
                                 detail=str(answer))
            for entry in answer or []:
                key = (entry["transactionHash"], int(entry["logIndex"], 16))
                if key in seen:
                    continue  # a transfer to oneself matches both queries
                seen.add(key)
                topics = entry["topics"]
                out.append(MorTransfer(
                    tx_hash=entry["transactionHash"], block=int(entry["blockNumber"], 16),
                    sender=to_checksum_address("0x" + topics[1][-40:]),
                    to=to_checksum_address("0x" + topics[2][-40:]),
                    amount=int(entry["data"], 16),
                ))
        out.sort(key=lambda t: t.block, reverse=True)
        return out

    async def transaction_status(self, tx_hash: str) -> str:
        """"pending" (also: unknown to this node), "confirmed" or "failed"."""
        rec = await self.tx.receipt(tx_hash)
        if rec is None:
            return "pending"
        return "confirmed" if rec.status == 1 else "failed"

    async def get_receipt(self, tx_hash: str) -> TxReceipt | None:
        """Receipt of a recorded transaction, or None while it is pending/unknown."""
        return await self.tx.receipt(tx_hash)

    async def wait_for_receipt(self, tx_hash: str, timeout: float = 180.0) -> TxReceipt:
        """Resume waiting on a hash recorded earlier (e.g. after a restart)."""
        return await self.tx.wait_for_receipt([tx_hash], timeout)

    async def block_number(self) -> int:
        return int(await self.rpc.request("eth_blockNumber"), 16)

    # -- the whole market ---------------------------------------------------------------------

    async def load_market(self) -> MarketSnapshot:
        """Models, active bids, their providers, stats and parameters, in ~3 HTTP requests."""
        d = self.diamond
        first = await self._many([
            Call(d, DIAMOND["getActiveModelIds"], (0, PAGE)),
            Call(d, DIAMOND["getActiveProviders"], (0, PAGE)),
            Call(d, DIAMOND["getProviderMinimumStake"]), Call(d, DIAMOND["getModelMinimumStake"]),
            Call(d, DIAMOND["getBidFee"]), Call(d, DIAMOND["getMinMaxBidPricePerSecond"]),
            Call(d, DIAMOND["getMaxSessionDuration"]),
        ])
        model_ids = [id_hex(m) for m in first[0][0]]
        providers: list[str] = [to_checksum_address(a) for a in first[1][0]]
        if first[0][1] > len(model_ids) or first[1][1] > len(providers):
            model_ids = await self.active_model_ids()
            providers = await self.active_provider_addresses()
        params = MarketParams(first[2][0], first[3][0], first[4][0], first[5][0], first[5][1],
                              first[6][0])

        second_calls: list[Call] = []
        for m in model_ids:
            mb = id_bytes(m)
            second_calls += [Call(d, DIAMOND["getModel"], (mb,)),
                             Call(d, DIAMOND["getModelActiveBids"], (mb, 0, PAGE)),
                             Call(d, DIAMOND["getModelStats"], (mb,))]
        second_calls += [Call(d, DIAMOND["getProvider"], (a,)) for a in providers]
        second = await self._many(second_calls)
        models: list[Model] = []
        model_stats: dict[str, ModelStats] = {}
        bid_ids: list[str] = []
        for i, m in enumerate(model_ids):
            model_t, bids_t, stats_t = second[3 * i : 3 * i + 3]
            models.append(model_from(m, model_t[0]))
            model_stats[m] = model_stats_from(stats_t[0])
            ids = [id_hex(b) for b in bids_t[0]]
            if bids_t[1] > len(ids):
                ids = await self.model_active_bid_ids(m)
            bid_ids += ids
        provider_map: dict[str, Provider] = {
            a: provider_from(a, r[0])
            for a, r in zip(providers, second[3 * len(model_ids) :], strict=True)
        }

        bids = await self.get_bids(bid_ids)
        missing = sorted({b.provider for b in bids} - provider_map.keys())
        third_calls = [Call(d, DIAMOND["getProviderModelStats"],
                            (id_bytes(b.model_id), b.provider)) for b in bids]
        third_calls += [Call(d, DIAMOND["getProvider"], (a,)) for a in missing]
        third = await self._many(third_calls)
        pm_stats = {(b.model_id, b.provider): pm_stats_from(r[0])
                    for b, r in zip(bids, third[: len(bids)], strict=True)}
        for a, r in zip(missing, third[len(bids) :], strict=True):
            provider_map[a] = provider_from(a, r[0])
        return MarketSnapshot(
            models=tuple(models), bids=tuple(bids), providers=provider_map,
            model_stats=model_stats, provider_model_stats=pm_stats, params=params,
        )
