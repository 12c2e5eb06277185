"""The chain client's reads: connection, generic (batched, Multicall3) calls, balances and the
registries' getters. :class:`app.chain.client.ChainClient` is the one class callers use."""


from collections.abc import Iterable, Sequence
from typing import Any, Self

from eth_utils import to_checksum_address

from app.chain.abi import DIAMOND, ERC20, Fn, decode_aggregate3, encode_aggregate3
from app.chain.decode import (
    BATCH_LIMIT,
    MULTICALL_CHUNK,
    PAGE,
    Call,
    _chunks,
    bid_from,
    model_from,
    model_stats_from,
    pm_stats_from,
    provider_from,
    session_from,
)
from app.chain.errors import (
    ChainError,
    ContractNotFound,
    ContractReverted,
    RpcUnavailable,
    decode_revert,
)
from app.chain.networks import Network
from app.chain.rpc import EthRpcError, RpcPool
from app.chain.tx import TxManager, TxPolicy
from app.market.types import (
    Bid,
    Model,
    ModelStats,
    Provider,
    ProviderModelStats,
    Session,
    id_bytes,
    id_hex,
)


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




class ChainReader:
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

    async def connect(self, *, market: bool = True) -> None:
        """Check chain id (every RPC URL is checked on first use) and that the contracts exist.

        ``market=False``: a wallet-only client (ETH and MOR balances and transfers), for an RPC
        address given without the marketplace's; only the MOR token is checked.
        Raises ``WrongChain``, ``RpcUnavailable`` or ``ContractNotFound``.
        """
        checked = [("MOR token", self.token)]
        if market:
            checked.insert(0, ("Morpheus marketplace", self.diamond))
        codes = await self.rpc.batch(
            [("eth_getCode", [a, "latest"]) for a in
             [addr for _what, addr in checked] + [self.multicall or self.token]]
        )
        for (what, addr), code in zip(checked, codes, strict=False):
            if isinstance(code, EthRpcError) or code in (None, "0x", "0x0"):
                raise ContractNotFound(what, addr)
        if isinstance(codes[-1], EthRpcError) or codes[-1] in (None, "0x", "0x0"):
            self.multicall = None  # fall back to plain JSON-RPC batches
        self._connected = True

    async def close(self) -> None:
        await self.rpc.close()

    async def __aenter__(self) -> Self:
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
        except EthRpcError as exc:
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
                if isinstance(ans, EthRpcError):
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
                if isinstance(ans, EthRpcError):
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
        if isinstance(eth, EthRpcError) or isinstance(mor, EthRpcError):
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
