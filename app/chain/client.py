"""``ChainClient``: typed async reads and writes of the Morpheus Diamond and the MOR token.

Reads return ``app.market.types``; many reads are folded into Multicall3 ``aggregate3`` calls
sent together in one JSON-RPC batch, so loading the whole marketplace costs a handful of HTTP
round trips. Writes go through ``TxManager`` (simulate, exact approvals, nonce lock, fee bumps)
and accept ``on_sent`` so the caller can persist every hash before waiting for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from eth_abi import decode as abi_decode
from eth_utils import to_checksum_address

from app.chain import abi
from app.chain.abi import DIAMOND, ERC20, Fn, checksum, decode_aggregate3, encode_aggregate3
from app.chain.errors import (
    ChainError,
    ContractNotFound,
    ContractReverted,
    InsufficientMor,
    RpcUnavailable,
    decode_revert,
)
from app.chain.ids import bid_id as derive_bid_id
from app.chain.ids import model_id as derive_model_id
from app.chain.networks import Network
from app.chain.rpc import RpcError, RpcPool
from app.chain.tx import OnSent, Receipt, Signer, TxManager, TxPolicy
from app.market.types import (
    SD,
    Bid,
    MarketParams,
    MarketSnapshot,
    Model,
    ModelStats,
    OnHold,
    Pool,
    Provider,
    ProviderModelStats,
    Session,
    id_bytes,
    id_hex,
)

PAGE = 1000  # items per paginated getter call
MULTICALL_CHUNK = 250  # sub-calls per aggregate3 (keeps each eth_call far below gas caps)
BATCH_LIMIT = 40  # JSON-RPC requests per HTTP batch (public nodes cap batch sizes)
T = TypeVar("T")


def _async_web3(pool: RpcPool) -> Any:
    """An ``AsyncWeb3`` whose transport is our failover pool. Built on first use: importing web3
    costs ~25 MB and 0.3 s, which the GUI should not pay before the user needs it."""
    from web3 import AsyncWeb3
    from web3.providers.async_base import AsyncJSONBaseProvider

    class PoolProvider(AsyncJSONBaseProvider):  # type: ignore[misc]
        async def make_request(self, method: Any, params: Any) -> Any:
            return await pool.request_raw(str(method), list(params) if params else [])

        async def make_batch_request(self, requests: list[tuple[Any, Any]]) -> Any:
            return await pool.batch_raw([(str(m), list(p) if p else []) for m, p in requests])

        async def is_connected(self, show_traceback: bool = False) -> bool:
            try:
                await pool.request("eth_chainId")
            except ChainError:
                if show_traceback:
                    raise
                return False
            return True

    return AsyncWeb3(PoolProvider(), middleware=[])


@dataclass(frozen=True)
class Call:
    """One contract read to fold into a batch."""

    to: str
    fn: Fn
    args: tuple[Any, ...] = ()


# --- decoding of struct tuples into domain types --------------------------------------------


def _sd(t: Sequence[int]) -> SD:
    return SD(int(t[0]), int(t[1]))


def provider_from(address: str, t: Sequence[Any]) -> Provider:
    return Provider(checksum(address), t[0], t[1], t[2], t[3], t[4], bool(t[5]))


def model_from(model_id: str, t: Sequence[Any]) -> Model:
    return Model(
        id=id_hex(model_id), ipfs_cid=id_hex(t[0]), fee=t[1], stake=t[2],
        owner=checksum(t[3]), name=t[4], tags=tuple(t[5]), created_at=t[6],
        is_deleted=bool(t[7]),
    )


def bid_from(bid_id: str, t: Sequence[Any]) -> Bid:
    return Bid(id_hex(bid_id), checksum(t[0]), id_hex(t[1]), t[2], t[3], t[4], t[5])


def session_from(session_id: str, t: Sequence[Any]) -> Session:
    return Session(
        id=id_hex(session_id), user=checksum(t[0]), bid_id=id_hex(t[1]), stake=t[2],
        closeout_receipt=bytes(t[3]), closeout_type=t[4], provider_withdrawn_amount=t[5],
        opened_at=t[6], ends_at=t[7], closed_at=t[8], is_active=bool(t[9]),
        is_direct_payment=bool(t[10]),
    )


def pm_stats_from(t: Sequence[Any]) -> ProviderModelStats:
    return ProviderModelStats(_sd(t[0]), _sd(t[1]), t[2], t[3], t[4])


def model_stats_from(t: Sequence[Any]) -> ModelStats:
    return ModelStats(_sd(t[0]), _sd(t[1]), _sd(t[2]), t[3])


@dataclass(frozen=True)
class FeeEstimate:
    """An EIP-1559 fee: at most ``gas_limit * max_fee_per_gas`` wei of ETH is paid."""

    gas_limit: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int

    @property
    def max_cost(self) -> int:
        return self.gas_limit * self.max_fee_per_gas


@dataclass(frozen=True)
class MorTransfer:
    tx_hash: str
    block: int
    sender: str
    to: str
    amount: int


def _chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class ChainClient:
    def __init__(
        self,
        network: Network,
        *,
        policy: TxPolicy | None = None,
        timeout: float = 10.0,
        rounds: int = 2,
    ) -> None:
        self.network = network
        self.rpc = RpcPool(
            network.rpc_urls, expected_chain_id=network.chain_id, timeout=timeout, rounds=rounds
        )
        self.tx = TxManager(self.rpc, network.chain_id, policy)
        self._w3: Any = None
        self.diamond = network.diamond
        self.token = network.mor_token
        self.multicall: str | None = network.multicall3 or None
        self._connected = False

    @property
    def w3(self) -> Any:
        """web3.py's ``AsyncWeb3`` over the same failover pool, for anything not wrapped here."""
        if self._w3 is None:
            self._w3 = _async_web3(self.rpc)
        return self._w3

    @property
    def chain_id(self) -> int:
        return self.network.chain_id

    @property
    def explorer_url(self) -> str | None:
        """Base URL of a block explorer (``{url}/tx/{hash}``); None for a local chain."""
        return self.network.explorer or None

    # -- lifecycle ----------------------------------------------------------------------

    async def connect(self) -> None:
        """Check chain id (every RPC URL is checked on first use) and that the contracts exist.

        Raises ``WrongChain``, ``RpcUnavailable`` or ``ContractNotFound``.
        """
        codes = await self.rpc.batch(
            [("eth_getCode", [a, "latest"]) for a in (self.diamond, self.token,
                                                    self.multicall or self.diamond)]
        )
        for what, addr, code in (("Morpheus marketplace", self.diamond, codes[0]),
                                 ("MOR token", self.token, codes[1])):
            if isinstance(code, RpcError) or code in (None, "0x", "0x0"):
                raise ContractNotFound(what, addr)
        if isinstance(codes[2], RpcError) or codes[2] in (None, "0x", "0x0"):
            self.multicall = None  # fall back to plain JSON-RPC batches
        self._connected = True

    async def close(self) -> None:
        await self.rpc.close()

    async def __aenter__(self) -> ChainClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- generic reads --------------------------------------------------------------------

    async def call(self, fn: Fn, *args: Any, to: str | None = None,
                   block: str = "latest") -> tuple[Any, ...]:
        target = to or self.diamond
        params = [{"to": target, "data": "0x" + fn.encode(*args).hex()}, block]
        try:
            result = await self.rpc.request("eth_call", params)
        except RpcError as exc:
            if exc.revert_data is not None or "revert" in exc.message.lower():
                raise decode_revert(exc.revert_data or "0x") from exc
            raise ChainError("The network could not run this read.",
                             detail=f"{fn.name}: {exc}") from exc
        return self._decode(fn, target, result)

    def _decode(self, fn: Fn, target: str, result: Any) -> tuple[Any, ...]:
        data = bytes.fromhex(str(result)[2:]) if isinstance(result, str) else b""
        if not data and fn.outputs:
            raise ContractNotFound("Morpheus" if target == self.diamond else "expected", target)
        try:
            return fn.decode(data)
        except Exception as exc:
            raise ChainError(
                "The contract at this address answered in an unexpected format.",
                detail=f"{fn.name} at {target}: {data[:64].hex()}",
            ) from exc

    async def call_many(self, calls: Sequence[Call]) -> list[tuple[Any, ...] | ContractReverted]:
        """Many reads in as few HTTP requests as possible; per-call reverts are returned."""
        if not calls:
            return []
        if self.multicall:
            return await self._call_many_multicall(calls)
        out: list[tuple[Any, ...] | ContractReverted] = []
        for group in _chunks(calls, BATCH_LIMIT):
            answers = await self.rpc.batch(
                [("eth_call", [{"to": c.to, "data": "0x" + c.fn.encode(*c.args).hex()},
                               "latest"]) for c in group]
            )
            for c, ans in zip(group, answers, strict=True):
                if isinstance(ans, RpcError):
                    out.append(decode_revert(ans.revert_data or "0x"))
                else:
                    out.append(self._decode(c.fn, c.to, ans))
        return out

    async def _call_many_multicall(
        self, calls: Sequence[Call]
    ) -> list[tuple[Any, ...] | ContractReverted]:
        assert self.multicall is not None
        chunks = _chunks(calls, MULTICALL_CHUNK)
        requests = [
            ("eth_call", [{"to": self.multicall, "data": "0x" + encode_aggregate3(
                [(c.to, True, c.fn.encode(*c.args)) for c in chunk]).hex()}, "latest"])
            for chunk in chunks
        ]
        out: list[tuple[Any, ...] | ContractReverted] = []
        for req_group, chunk_group in zip(_chunks(requests, BATCH_LIMIT),
                                          _chunks(chunks, BATCH_LIMIT), strict=True):
            answers = await self.rpc.batch(req_group)
            for chunk, ans in zip(chunk_group, answers, strict=True):
                if isinstance(ans, RpcError):
                    raise ChainError("The network could not run a batched read.",
                                     detail=str(ans))
                results = decode_aggregate3(bytes.fromhex(str(ans)[2:]))
                for c, (ok, ret) in zip(chunk, results, strict=True):
                    if not ok:
                        out.append(decode_revert(bytes(ret)))
                    elif not ret and c.fn.outputs:
                        out.append(ContractReverted("No contract answered this read.",
                                                    data="0x"))
                    else:
                        try:
                            out.append(c.fn.decode(bytes(ret)))
                        except ValueError:
                            out.append(ContractReverted(
                                "The contract at this address answered in an unexpected "
                                "format.", data="0x" + bytes(ret).hex()))
        return out

    async def _many(self, calls: Sequence[Call]) -> list[tuple[Any, ...]]:
        """``call_many`` that raises the first revert (for reads that must all succeed)."""
        results = await self.call_many(calls)
        for r in results:
            if isinstance(r, ContractReverted):
                raise r
        return results  # type: ignore[return-value]

    async def _d(self, name: str, *args: Any) -> tuple[Any, ...]:
        return await self.call(DIAMOND[name], *args)

    async def _paginate(self, name: str, *prefix: Any) -> list[Any]:
        """All items of a ``get…(…, offset, limit) → (items, total)`` getter."""
        items, total = await self._d(name, *prefix, 0, PAGE)
        items = list(items)
        if total > len(items):
            rest = await self._many([Call(self.diamond, DIAMOND[name], (*prefix, off, PAGE))
                                     for off in range(PAGE, total, PAGE)])
            for page_items, _ in rest:
                items.extend(page_items)
        return items

    # -- balances -------------------------------------------------------------------------

    async def eth_balance(self, address: str) -> int:
        return int(await self.rpc.request("eth_getBalance", [to_checksum_address(address),
                                                             "latest"]), 16)

    async def mor_balance(self, address: str) -> int:
        (bal,) = await self.call(ERC20["balanceOf"], to_checksum_address(address), to=self.token)
        return int(bal)

    async def balances(self, address: str) -> tuple[int, int]:
        """(ETH wei, MOR wei) in one round trip."""
        addr = to_checksum_address(address)
        eth, mor = await self.rpc.batch([
            ("eth_getBalance", [addr, "latest"]),
            ("eth_call", [{"to": self.token, "data": "0x" + ERC20["balanceOf"].encode(addr).hex()},
                          "latest"]),
        ])
        if isinstance(eth, RpcError) or isinstance(mor, RpcError):
            raise RpcUnavailable(f"balance read failed: {eth!r} {mor!r}")
        return int(eth, 16), int(self._decode(ERC20["balanceOf"], self.token, mor)[0])

    async def allowance(self, owner: str, spender: str | None = None) -> int:
        (value,) = await self.call(ERC20["allowance"], to_checksum_address(owner),
                                   to_checksum_address(spender or self.diamond), to=self.token)
        return int(value)

    async def mor_total_supply(self) -> int:
        (value,) = await self.call(ERC20["totalSupply"], to=self.token)
        return int(value)

    # -- registry getters -----------------------------------------------------------------

    async def get_provider(self, address: str) -> Provider:
        (t,) = await self._d("getProvider", to_checksum_address(address))
        return provider_from(address, t)

    async def get_providers(self, addresses: Iterable[str]) -> list[Provider]:
        addrs = [to_checksum_address(a) for a in addresses]
        res = await self._many([Call(self.diamond, DIAMOND["getProvider"], (a,)) for a in addrs])
        return [provider_from(a, r[0]) for a, r in zip(addrs, res, strict=True)]

    async def get_model(self, model_id: str | bytes) -> Model:
        (t,) = await self._d("getModel", id_bytes(model_id))
        return model_from(id_hex(model_id), t)

    async def get_models(self, model_ids: Iterable[str | bytes]) -> list[Model]:
        ids = [id_hex(m) for m in model_ids]
        res = await self._many([Call(self.diamond, DIAMOND["getModel"], (id_bytes(m),))
                                for m in ids])
        return [model_from(m, r[0]) for m, r in zip(ids, res, strict=True)]

    async def get_bid(self, bid_id: str | bytes) -> Bid:
        (t,) = await self._d("getBid", id_bytes(bid_id))
        return bid_from(id_hex(bid_id), t)

    async def get_bids(self, bid_ids: Iterable[str | bytes]) -> list[Bid]:
        ids = [id_hex(b) for b in bid_ids]
        res = await self._many([Call(self.diamond, DIAMOND["getBid"], (id_bytes(b),))
                                for b in ids])
        return [bid_from(b, r[0]) for b, r in zip(ids, res, strict=True)]

    async def get_session(self, session_id: str | bytes) -> Session:
        (t,) = await self._d("getSession", id_bytes(session_id))
        return session_from(id_hex(session_id), t)

    async def get_sessions(self, session_ids: Iterable[str | bytes]) -> list[Session]:
        ids = [id_hex(s) for s in session_ids]
        res = await self._many([Call(self.diamond, DIAMOND["getSession"], (id_bytes(s),))
                                for s in ids])
        return [session_from(s, r[0]) for s, r in zip(ids, res, strict=True)]

    async def active_provider_addresses(self) -> list[str]:
        return [to_checksum_address(a) for a in await self._paginate("getActiveProviders")]

    async def active_model_ids(self) -> list[str]:
        return [id_hex(m) for m in await self._paginate("getActiveModelIds")]

    async def all_model_ids(self) -> list[str]:
        return [id_hex(m) for m in await self._paginate("getModelIds")]

    async def model_active_bid_ids(self, model_id: str | bytes) -> list[str]:
        return [id_hex(b) for b in await self._paginate("getModelActiveBids",
                                                        id_bytes(model_id))]

    async def provider_active_bid_ids(self, provider: str) -> list[str]:
        return [id_hex(b) for b in await self._paginate("getProviderActiveBids",
                                                        to_checksum_address(provider))]

    async def user_session_ids(self, user: str) -> list[str]:
        return [id_hex(s) for s in await self._paginate("getUserSessions",
                                                        to_checksum_address(user))]

    async def provider_session_ids(self, provider: str) -> list[str]:
        return [id_hex(s) for s in await self._paginate("getProviderSessions",
                                                        to_checksum_address(provider))]

    async def is_provider_active(self, provider: str) -> bool:
        return bool((await self._d("getIsProviderActive", to_checksum_address(provider)))[0])

    async def is_model_active(self, model_id: str | bytes) -> bool:
        return bool((await self._d("getIsModelActive", id_bytes(model_id)))[0])

    async def is_bid_active(self, bid_id: str | bytes) -> bool:
        return bool((await self._d("isBidActive", id_bytes(bid_id)))[0])

    async def provider_model_stats(self, model_id: str | bytes,
                                   provider: str) -> ProviderModelStats:
        (t,) = await self._d("getProviderModelStats", id_bytes(model_id),
                             to_checksum_address(provider))
        return pm_stats_from(t)

    async def model_stats(self, model_id: str | bytes) -> ModelStats:
        (t,) = await self._d("getModelStats", id_bytes(model_id))
        return model_stats_from(t)

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
            if isinstance(answer, RpcError):
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

    async def get_receipt(self, tx_hash: str) -> Receipt | None:
        """Receipt of a recorded transaction, or None while it is pending/unknown."""
        return await self.tx.receipt(tx_hash)

    async def wait_for_receipt(self, tx_hash: str, timeout: float = 180.0) -> Receipt:
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

    # -- writes -------------------------------------------------------------------------------

    async def _write(self, signer: Signer, fn: Fn, *args: Any, to: str | None = None,
                     value: int = 0, on_sent: OnSent | None = None,
                     description: str = "") -> Receipt:
        return await self.tx.send(signer, to or self.diamond, fn.encode(*args) if fn else b"",
                                  value=value, on_sent=on_sent,
                                  description=description or fn.name)

    async def require_mor(self, owner: str, amount: int) -> None:
        """Raise ``InsufficientMor`` with the exact shortfall before anything is sent."""
        if amount <= 0:
            return
        balance = await self.mor_balance(owner)
        if balance < amount:
            raise InsufficientMor(needed=amount, balance=balance)

    async def approve(self, signer: Signer, amount: int, spender: str | None = None, *,
                      on_sent: OnSent | None = None) -> Receipt:
        """Approve exactly ``amount`` (never unlimited) for ``spender`` (default: Diamond)."""
        if amount < 0 or amount >= 2**255:
            raise ChainError("Approvals are only ever made for the exact amount needed.",
                             detail=f"refused approve({amount})")
        return await self._write(signer, ERC20["approve"],
                                 to_checksum_address(spender or self.diamond), amount,
                                 to=self.token, on_sent=on_sent, description="approve MOR")

    async def ensure_allowance(self, signer: Signer, amount: int, spender: str | None = None,
                               *, on_sent: OnSent | None = None) -> Receipt | None:
        """Approve ``amount`` unless the current allowance already covers it."""
        if amount <= 0:
            return None
        current = await self.allowance(signer.address, spender)
        if current >= amount:
            return None
        return await self.approve(signer, amount, spender, on_sent=on_sent)

    async def _pull(self, signer: Signer, principal: str, amount: int,
                    on_sent: OnSent | None) -> None:
        """Before a write that pulls MOR from ``principal``: balance check, exact approval."""
        await self.require_mor(principal, amount)
        if to_checksum_address(principal) == to_checksum_address(signer.address):
            await self.ensure_allowance(signer, amount, on_sent=on_sent)

    async def provider_register(self, signer: Signer, amount: int, endpoint: str, *,
                                provider: str | None = None,
                                on_sent: OnSent | None = None) -> Receipt:
        principal = to_checksum_address(provider or signer.address)
        await self._pull(signer, principal, amount, on_sent)
        return await self._write(signer, DIAMOND["providerRegister"], principal, amount,
                                 endpoint, on_sent=on_sent)

    async def provider_deregister(self, signer: Signer, *, provider: str | None = None,
                                  on_sent: OnSent | None = None) -> Receipt:
        principal = to_checksum_address(provider or signer.address)
        return await self._write(signer, DIAMOND["providerDeregister"], principal,
                                 on_sent=on_sent)

    async def model_register(self, signer: Signer, base_model_id: str | bytes, amount: int,
                             name: str, tags: Sequence[str] = (), *,
                             ipfs_cid: str | bytes = b"\x00" * 32, fee: int = 0,
                             owner: str | None = None,
                             on_sent: OnSent | None = None) -> tuple[str, Receipt]:
        """Register (or update) a model; returns its model id."""
        principal = to_checksum_address(owner or signer.address)
        await self._pull(signer, principal, amount, on_sent)
        rec = await self._write(signer, DIAMOND["modelRegister"], principal,
                                id_bytes(base_model_id), id_bytes(ipfs_cid), fee, amount, name,
                                list(tags), on_sent=on_sent)
        return derive_model_id(principal, base_model_id), rec

    async def model_deregister(self, signer: Signer, model_id: str | bytes, *,
                               on_sent: OnSent | None = None) -> Receipt:
        return await self._write(signer, DIAMOND["modelDeregister"], id_bytes(model_id),
                                 on_sent=on_sent)

    async def post_model_bid(self, signer: Signer, model_id: str | bytes,
                             price_per_second: int, *, provider: str | None = None,
                             on_sent: OnSent | None = None) -> tuple[str, Receipt]:
        """Post a bid (replacing this provider's previous bid on the model); returns bid id."""
        principal = to_checksum_address(provider or signer.address)
        fee = await self.bid_fee()
        await self._pull(signer, principal, fee, on_sent)
        rec = await self._write(signer, DIAMOND["postModelBid"], principal, id_bytes(model_id),
                                price_per_second, on_sent=on_sent)
        for log in rec.logs:
            topics = log.get("topics") or []
            if (topics and topics[0] == abi.BID_POSTED
                    and to_checksum_address(log["address"]) == self.diamond):
                (nonce,) = abi_decode(["uint256"], bytes.fromhex(log["data"][2:]))
                return derive_bid_id(principal, model_id, int(nonce)), rec
        raise ChainError("The bid was posted but its id could not be read from the receipt.",
                         detail=rec.tx_hash)

    async def delete_model_bid(self, signer: Signer, bid_id: str | bytes, *,
                               on_sent: OnSent | None = None) -> Receipt:
        return await self._write(signer, DIAMOND["deleteModelBid"], id_bytes(bid_id),
                                 on_sent=on_sent)

    async def open_session(self, signer: Signer, amount: int, approval: bytes,
                           approval_signature: bytes, *, direct_payment: bool = False,
                           user: str | None = None,
                           on_sent: OnSent | None = None) -> tuple[str, Receipt]:
        """Open a session with a provider-signed approval; returns the session id
        (from the ``SessionOpened`` event: it cannot be predicted before mining)."""
        principal = to_checksum_address(user or signer.address)
        await self._pull(signer, principal, amount, on_sent)
        rec = await self._write(signer, DIAMOND["openSession"], principal, amount,
                                direct_payment, approval, approval_signature, on_sent=on_sent)
        for log in rec.logs:
            topics = log.get("topics") or []
            if (len(topics) >= 3 and topics[0] == abi.SESSION_OPENED
                    and to_checksum_address(log["address"]) == self.diamond):
                return id_hex(topics[2]), rec
        raise ChainError("The session was opened but its id could not be read from the "
                         "receipt.", detail=rec.tx_hash)

    async def close_session(self, signer: Signer, receipt: bytes, signature: bytes, *,
                            on_sent: OnSent | None = None) -> Receipt:
        return await self._write(signer, DIAMOND["closeSession"], receipt, signature,
                                 on_sent=on_sent)

    async def claim_for_provider(self, signer: Signer, session_id: str | bytes, *,
                                 on_sent: OnSent | None = None) -> Receipt:
        return await self._write(signer, DIAMOND["claimForProvider"], id_bytes(session_id),
                                 on_sent=on_sent)

    async def withdraw_user_stakes(self, signer: Signer, *, iterations: int = 255,
                                   user: str | None = None,
                                   on_sent: OnSent | None = None) -> Receipt:
        principal = to_checksum_address(user or signer.address)
        return await self._write(signer, DIAMOND["withdrawUserStakes"], principal, iterations,
                                 on_sent=on_sent)

    async def transfer_mor(self, signer: Signer, to: str, amount: int, *,
                           on_sent: OnSent | None = None) -> Receipt:
        await self.require_mor(signer.address, amount)
        return await self._write(signer, ERC20["transfer"], to_checksum_address(to), amount,
                                 to=self.token, on_sent=on_sent, description="send MOR")

    async def send_eth(self, signer: Signer, to: str, amount: int, *,
                       on_sent: OnSent | None = None) -> Receipt:
        return await self.tx.send(signer, to_checksum_address(to), b"", value=amount,
                                  on_sent=on_sent, description="send ETH")

