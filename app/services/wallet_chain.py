"""The wallet's view of the chain, backed by the one ``ChainClient`` of the program.

Sends go through the client's transaction manager, so a MOR transfer from the Wallet page and an
``openSession`` from the Chat page share one nonce manager and never race for the same nonce. A
send pays at most the fee the user confirmed (gas limit × max fee per gas of the preview).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from eth_utils import is_address, to_checksum_address

from app.chain.abi import ERC20
from app.chain.client import ChainClient, MorTransfer
from app.chain.networks import Network
from app.chain.rpc import RpcPool
from app.chain.tx import SentTx
from app.logsetup import safe_url
from app.services.wallet_service import Asset, FeeQuote
from app.wallet.errors import FeeRose, WalletError
from app.wallet.units import format_amount

log = logging.getLogger(__name__)

OnSent = Callable[[SentTx], Awaitable[None]]


class ClientWalletChain:
    def __init__(self, chain: ChainClient) -> None:
        self.chain = chain
        self._pending: set[asyncio.Task[Any]] = set()

    async def close(self) -> None:
        """Wait for sends still being mined, then close the client (for one-shot CLI use)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        await self.chain.close()

    @property
    def chain_id(self) -> int:
        return int(self.chain.chain_id)

    @property
    def explorer_url(self) -> str | None:
        return self.chain.explorer_url

    async def eth_balance(self, address: str) -> int:
        return await self.chain.eth_balance(address)

    async def mor_balance(self, address: str) -> int:
        return await self.chain.mor_balance(address)

    async def mor_decimals(self) -> int:
        return await self.chain.mor_decimals()

    async def estimate_fee(self, asset: Asset, sender: str, to: str, amount: int) -> FeeQuote:
        return await self.chain.estimate_fee(asset, sender, to, amount)

    async def _send(self, start: Callable[[OnSent], Awaitable[Any]]) -> str:
        """Return the hash as soon as the transaction is broadcast; mining continues in the
        background (the wallet tracks it as pending)."""
        sent: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def on_sent(tx: SentTx) -> None:
            if not sent.done():
                sent.set_result(tx.tx_hash)

        task = asyncio.ensure_future(start(on_sent))
        self._pending.add(task)
        task.add_done_callback(self._finished)
        await asyncio.wait({sent, task}, return_when=asyncio.FIRST_COMPLETED)
        if sent.done():
            return sent.result()
        task.result()  # raises the typed error (simulation revert, gas short, ...)
        raise RuntimeError("the transaction finished without being sent")

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("wallet transaction failed after sending: %s", task.exception())

    async def check_fee(self, fee: FeeQuote, asset: Asset, sender: str, to: str,
                        amount: int) -> None:
        """``FeeRose`` when the confirmed fee can no longer get the transfer in: the gas it
        needs now exceeds the confirmed limit, or base fee + tip exceed the confirmed cap."""
        now = await self.chain.estimate_fee(asset, sender, to, amount)
        block = await self.chain.rpc.request("eth_getBlockByNumber", ["latest", False])
        base = int(block.get("baseFeePerGas") or "0x0", 16)
        needed = base + now.max_priority_fee_per_gas
        if now.gas_limit > fee.gas_limit or needed > fee.max_fee_per_gas:
            raise FeeRose(
                f"The network fee went up since you confirmed it: now up to "
                f"{format_amount(now.max_cost)} ETH instead of {format_amount(fee.max_cost)} ETH. "
                "Nothing was sent. Review the new fee and confirm again.",
                quote=now,
            )

    async def send_eth(self, signer: Any, to: str, amount: int, fee: FeeQuote) -> str:
        await self.check_fee(fee, "ETH", signer.address, to, amount)
        return await self._send(lambda cb: self.chain.tx.send(
            signer, to, b"", value=amount, gas=fee.gas_limit, max_fee=fee.max_fee_per_gas,
            on_sent=cb, description="send ETH"))

    async def send_mor(self, signer: Any, to: str, amount: int, fee: FeeQuote) -> str:
        await self.chain.require_mor(signer.address, amount)
        await self.check_fee(fee, "MOR", signer.address, to, amount)
        data = ERC20["transfer"].encode(to_checksum_address(to), amount)
        return await self._send(lambda cb: self.chain.tx.send(
            signer, self.chain.token, data, gas=fee.gas_limit, max_fee=fee.max_fee_per_gas,
            on_sent=cb, description="send MOR"))

    async def mor_transfers(self, address: str) -> list[MorTransfer]:
        return await self.chain.mor_transfers(address)

    async def transaction_status(self, tx_hash: str) -> str:
        return await self.chain.transaction_status(tx_hash)


async def wallet_chain_at(rpc_url: str, mor_token: str, *, explorer: str = "") -> ClientWalletChain:
    """The wallet's chain through one RPC address and a MOR token (``morpheus wallet --rpc``):
    the same client and transaction manager as every other path, checking only the token (the
    marketplace's address is not known here). The chain id is the node's own."""
    if not is_address(mor_token):
        raise WalletError(f"The MOR token address {mor_token!r} is not an Ethereum address.")
    net = Network(key="custom", name=f"JSON-RPC at {safe_url(rpc_url)}", chain_id=0,
                  rpc_urls=(), mor_token=to_checksum_address(mor_token), diamond="",
                  explorer=explorer).with_rpc_urls([rpc_url])
    probe = RpcPool(list(net.rpc_urls))
    try:
        chain_id = int(await probe.request("eth_chainId", []), 16)
    finally:
        await probe.close()
    return ClientWalletChain(
        await ChainClient.connected(replace(net, chain_id=chain_id), market=False))
