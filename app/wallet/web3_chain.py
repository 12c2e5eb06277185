"""A small ``WalletChain`` over JSON-RPC: balances, fee quotes and transfers for the wallet.

It is the wallet's own stand-in until ``app.chain.client.ChainClient`` is wired in its place; it
keeps to the ``WalletChain`` protocol so that swap is a one-line change.
"""

from __future__ import annotations

from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from app.wallet.errors import FeeRose, WalletError
from app.wallet.signer import Signer

_BALANCE_OF = function_signature_to_4byte_selector("balanceOf(address)")
_DECIMALS = function_signature_to_4byte_selector("decimals()")
_TRANSFER = function_signature_to_4byte_selector("transfer(address,uint256)")
ETH_TRANSFER_GAS = 21_000
GAS_MARGIN_PCT = 20


class Web3WalletChain:
    """Reads and writes through JSON-RPC (``app.chain.rpc.RpcPool``: one aiohttp session that
    ``close()`` ends, so nothing outlives the event loop that opened it)."""

    def __init__(
        self, rpc_url: str, mor_token: str, *, chain_id: int, explorer_url: str | None = None
    ) -> None:
        from app.chain.rpc import RpcPool

        self.rpc = RpcPool([rpc_url], expected_chain_id=chain_id)
        self._chain_id = chain_id
        self._explorer = explorer_url or None
        self.token_address = to_checksum_address(mor_token)
        self._decimals: int | None = None

    @classmethod
    def for_network(cls, network: Any) -> Web3WalletChain:
        """From an ``app.chain.networks.Network`` (first RPC URL, its MOR token and explorer)."""
        return cls(
            network.rpc_urls[0],
            network.mor_token,
            chain_id=network.chain_id,
            explorer_url=network.explorer or None,
        )

    async def close(self) -> None:
        await self.rpc.close()

    @property
    def chain_id(self) -> int:
        return self._chain_id

    @property
    def explorer_url(self) -> str | None:
        return self._explorer

    async def _call(self, data: bytes) -> bytes:
        call = {"to": self.token_address, "data": "0x" + data.hex()}
        result = await self.rpc.request("eth_call", [call, "latest"])
        return bytes.fromhex(str(result)[2:])

    async def eth_balance(self, address: str) -> int:
        return int(
            await self.rpc.request("eth_getBalance", [to_checksum_address(address), "latest"]), 16
        )

    async def mor_balance(self, address: str) -> int:
        data = _BALANCE_OF + abi_encode(["address"], [to_checksum_address(address)])
        return int.from_bytes(await self._call(data), "big")

    async def mor_decimals(self) -> int:
        if self._decimals is None:
            self._decimals = int.from_bytes(await self._call(_DECIMALS), "big")
        return self._decimals

    @staticmethod
    def _transfer_data(to: str, amount: int) -> bytes:
        return _TRANSFER + abi_encode(["address", "uint256"], [to_checksum_address(to), amount])

    async def estimate_fee(self, asset: str, sender: str, to: str, amount: int) -> Any:
        from app.chain.client import FeeEstimate as FeeQuote  # what the wallet service calls it

        if asset == "ETH":
            gas = ETH_TRANSFER_GAS
        else:
            call = {
                "from": to_checksum_address(sender),
                "to": self.token_address,
                "data": "0x" + self._transfer_data(to, amount).hex(),
            }
            try:
                est = int(await self.rpc.request("eth_estimateGas", [call]), 16)
            except Exception as exc:
                raise WalletError(
                    "The network says this transfer would fail.", detail=str(exc)
                ) from exc
            gas = est * (100 + GAS_MARGIN_PCT) // 100
        block = await self.rpc.request("eth_getBlockByNumber", ["latest", False])
        base = int(block.get("baseFeePerGas") or "0x0", 16)
        try:
            tip = int(await self.rpc.request("eth_maxPriorityFeePerGas", []), 16)
        except Exception:
            tip = 10**9  # 1 gwei when the node cannot suggest one
        return FeeQuote(gas, 2 * base + tip, tip)

    async def _send(self, signer: Signer, to: str, value: int, data: bytes, fee: Any) -> str:
        sender = to_checksum_address(signer.address)
        block = await self.rpc.request("eth_getBlockByNumber", ["latest", False])
        if int(block.get("baseFeePerGas") or "0x0", 16) + fee.max_priority_fee_per_gas > (
            fee.max_fee_per_gas
        ):  # the confirmed fee is the most it may pay: ask again rather than pay more
            raise FeeRose("The network fee went up since you confirmed it. Nothing was sent. "
                          "Review the new fee and confirm again.")
        nonce = int(await self.rpc.request("eth_getTransactionCount", [sender, "pending"]), 16)
        tx = {
            "type": 2,
            "chainId": self._chain_id,
            "nonce": nonce,
            "to": to_checksum_address(to),
            "value": value,
            "data": data,
            "gas": fee.gas_limit,
            "maxFeePerGas": fee.max_fee_per_gas,
            "maxPriorityFeePerGas": fee.max_priority_fee_per_gas,
        }
        raw = signer.sign_transaction(tx)
        try:
            tx_hash = await self.rpc.request("eth_sendRawTransaction", ["0x" + raw.hex()])
        except Exception as exc:
            raise WalletError("The network refused the transaction.", detail=str(exc)) from exc
        return str(tx_hash)

    async def send_eth(self, signer: Signer, to: str, amount: int, fee: Any) -> str:
        return await self._send(signer, to, amount, b"", fee)

    async def send_mor(self, signer: Signer, to: str, amount: int, fee: Any) -> str:
        return await self._send(signer, self.token_address, 0, self._transfer_data(to, amount), fee)

    async def transaction_status(self, tx_hash: str) -> str:
        receipt = await self.rpc.request("eth_getTransactionReceipt", [tx_hash])
        if not receipt:
            return "pending"
        return "confirmed" if int(receipt.get("status", "0x0"), 16) == 1 else "failed"
