"""A small ``WalletChain`` on web3.py: balances, fee quotes and transfers for the wallet.

It is the wallet's own stand-in until ``app.chain.client.ChainClient`` is wired in its place; it
keeps to the ``WalletChain`` protocol so that swap is a one-line change.
"""

from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import TransactionNotFound

from app.wallet.errors import WalletError
from app.wallet.signer import Signer

ERC20_ABI: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "balanceOf",
        "stateMutability": "view",
        "inputs": [{"name": "owner", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
    {
        "type": "function",
        "name": "decimals",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"name": "", "type": "uint8"}],
    },
    {
        "type": "function",
        "name": "transfer",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "to", "type": "address"}, {"name": "amount", "type": "uint256"}],
        "outputs": [{"name": "", "type": "bool"}],
    },
]
ETH_TRANSFER_GAS = 21_000
GAS_MARGIN_PCT = 20


class Web3WalletChain:
    """Reads and writes through one JSON-RPC endpoint."""

    def __init__(
        self, rpc_url: str, mor_token: str, *, chain_id: int, explorer_url: str | None = None
    ) -> None:
        self.w3 = AsyncWeb3(AsyncHTTPProvider(rpc_url))
        self._chain_id = chain_id
        self._explorer = explorer_url or None
        self.token = self.w3.eth.contract(address=to_checksum_address(mor_token), abi=ERC20_ABI)
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

    @property
    def chain_id(self) -> int:
        return self._chain_id

    @property
    def explorer_url(self) -> str | None:
        return self._explorer

    async def eth_balance(self, address: str) -> int:
        return int(await self.w3.eth.get_balance(to_checksum_address(address)))

    async def mor_balance(self, address: str) -> int:
        return int(await self.token.functions.balanceOf(to_checksum_address(address)).call())

    async def mor_decimals(self) -> int:
        if self._decimals is None:
            self._decimals = int(await self.token.functions.decimals().call())
        return self._decimals

    def _transfer_data(self, to: str, amount: int) -> str:
        return str(self.token.encode_abi("transfer", args=[to_checksum_address(to), amount]))

    async def estimate_fee(self, asset: str, sender: str, to: str, amount: int) -> Any:
        from app.services.wallet_service import FeeQuote

        if asset == "ETH":
            gas = ETH_TRANSFER_GAS
        else:
            est = await self.w3.eth.estimate_gas(
                {
                    "from": to_checksum_address(sender),
                    "to": self.token.address,
                    "data": self._transfer_data(to, amount),  # type: ignore[typeddict-item]
                }
            )
            gas = int(est) * (100 + GAS_MARGIN_PCT) // 100
        block = await self.w3.eth.get_block("latest")
        base = int(block.get("baseFeePerGas", 0))
        tip = int(await self.w3.eth.max_priority_fee)
        return FeeQuote(gas, 2 * base + tip, tip)

    async def _send(self, signer: Signer, tx: dict[str, Any], fee: Any) -> str:
        sender = to_checksum_address(signer.address)
        tx.update(
            {
                "type": 2,
                "chainId": self._chain_id,
                "nonce": await self.w3.eth.get_transaction_count(sender, "pending"),
                "gas": fee.gas_limit,
                "maxFeePerGas": fee.max_fee_per_gas,
                "maxPriorityFeePerGas": fee.max_priority_fee_per_gas,
            }
        )
        raw = signer.sign_transaction(tx)
        try:
            tx_hash = await self.w3.eth.send_raw_transaction(raw)
        except ValueError as exc:
            raise WalletError("The network refused the transaction.", detail=str(exc)) from exc
        return "0x" + bytes(tx_hash).hex()

    async def send_eth(self, signer: Signer, to: str, amount: int, fee: Any) -> str:
        return await self._send(
            signer, {"to": to_checksum_address(to), "value": amount, "data": b""}, fee
        )

    async def send_mor(self, signer: Signer, to: str, amount: int, fee: Any) -> str:
        data = bytes.fromhex(self._transfer_data(to, amount)[2:])
        return await self._send(signer, {"to": self.token.address, "value": 0, "data": data}, fee)

    async def transaction_status(self, tx_hash: str) -> str:
        try:
            receipt = await self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return "pending"
        return "confirmed" if int(receipt["status"]) == 1 else "failed"
