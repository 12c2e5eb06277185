"""Balances, sends and the transfer history: the chain-facing half of ``WalletService``.

A mixin so that the service file stays readable; it only uses what the service defines (the
chain, the signer, the history file and the event hook).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.fileio import atomic_write_text
from app.services.wallet_types import (
    ETH_DECIMALS,
    Asset,
    Balances,
    SendPreview,
    TxRecord,
    WalletChain,
)
from app.wallet.errors import (
    InsufficientFunds,
    InsufficientGas,
    InvalidAmount,
    WalletError,
)
from app.wallet.known_keys import refuse_dev_key
from app.wallet.units import format_amount, parse_amount, validate_address

if TYPE_CHECKING:
    from app.wallet.lock import WalletSigner

log = logging.getLogger("app.services.wallet_service")


class WalletSends:
    chain: WalletChain | None

    if TYPE_CHECKING:  # provided by WalletService

        @property
        def signer(self) -> WalletSigner: ...

        @property
        def history_file(self) -> Path: ...

        def require_address(self) -> str: ...

        def _emit(self, event: str) -> None: ...

    # ----- balances and sending ----------------------------------------------------------------
    def _chain(self) -> WalletChain:
        if self.chain is None:
            raise WalletError("Not connected to a network yet. Check the network settings.")
        return self.chain

    async def balances(self, address: str | None = None) -> Balances:
        chain = self._chain()
        addr = address or self.require_address()
        return Balances(
            await chain.eth_balance(addr), await chain.mor_balance(addr), await chain.mor_decimals()
        )

    async def _decimals(self, asset: Asset) -> int:
        return ETH_DECIMALS if asset == "ETH" else await self._chain().mor_decimals()

    async def max_sendable(self, asset: Asset, to: str | None = None) -> int:
        """The most that can be sent: the whole MOR balance, or the ETH balance minus the fee."""
        chain = self._chain()
        addr = self.require_address()
        if asset == "MOR":
            return await chain.mor_balance(addr)
        bal = await chain.eth_balance(addr)
        fee = await chain.estimate_fee("ETH", addr, to or addr, bal)
        return max(0, bal - fee.max_cost)

    async def prepare_send(self, asset: Asset, to_text: str, amount_text: str) -> SendPreview:
        """Check everything the user typed and price the transaction; nothing is sent."""
        chain = self._chain()
        sender = self.require_address()
        to = validate_address(to_text)
        decimals = await self._decimals(asset)
        amount = parse_amount(amount_text, decimals, asset)
        if amount <= 0:
            raise InvalidAmount("Enter an amount greater than zero.")
        eth_bal = await chain.eth_balance(sender)
        asset_bal = eth_bal if asset == "ETH" else await chain.mor_balance(sender)
        if amount > asset_bal:
            missing = amount - asset_bal
            raise InsufficientFunds(
                f"You are trying to send {format_amount(amount, decimals)} {asset}, but the "
                f"balance is only {format_amount(asset_bal, decimals)} {asset} "
                f"({format_amount(missing, decimals)} {asset} missing). Nothing was sent.",
                missing=missing,
            )
        fee = await chain.estimate_fee(asset, sender, to, amount)
        return SendPreview(asset, sender, to, amount, decimals, fee, eth_bal, asset_bal)

    async def send(self, preview: SendPreview) -> TxRecord:
        if preview.gas_missing:
            raise InsufficientGas(
                (preview.gas_warning() or "") + " Nothing was sent.", missing=preview.gas_missing
            )
        chain = self._chain()
        signer = self.signer
        if signer.address != preview.sender:
            raise WalletError("The active account changed; review the transfer again.")
        refuse_dev_key(signer.address, chain.chain_id)
        if preview.asset == "ETH":
            tx_hash = await chain.send_eth(signer, preview.to, preview.amount, preview.fee)
        else:
            tx_hash = await chain.send_mor(signer, preview.to, preview.amount, preview.fee)
        rec = TxRecord(
            tx_hash,
            chain.chain_id,
            preview.asset,
            preview.sender,
            preview.to,
            preview.amount,
            preview.fee.max_cost,
        )
        log.info("sent %s transfer %s", preview.asset, tx_hash)
        self._save_history([rec, *self._load_history()])
        self._emit("history")
        return rec

    # ----- history -------------------------------------------------------------------------
    def _load_history(self) -> list[TxRecord]:
        try:
            data = json.loads(self.history_file.read_text(encoding="utf-8"))
            return [TxRecord.from_json(d) for d in data]
        except FileNotFoundError:
            return []
        except (ValueError, KeyError, TypeError):
            log.warning("transaction history file unreadable; showing an empty list")
            return []

    def _save_history(self, records: list[TxRecord]) -> None:
        atomic_write_text(self.history_file, json.dumps([r.to_json() for r in records], indent=1))

    def history(self) -> list[TxRecord]:
        """Transfers sent from this wallet on the current chain, newest first."""
        recs = self._load_history()
        if self.chain is not None:
            recs = [r for r in recs if r.chain_id == self.chain.chain_id]
        return recs

    async def mor_transfers(self) -> list[Any]:
        """MOR in and out of this address as the chain records it (``MorTransfer`` rows); empty
        when the chain adapter cannot list token events."""
        chain = self._chain()
        lister = getattr(chain, "mor_transfers", None)
        if lister is None:
            return []
        result: list[Any] = await lister(self.require_address())
        return result

    async def refresh_pending(self) -> list[TxRecord]:
        chain = self._chain()
        recs = self._load_history()
        changed = False
        for r in recs:
            if r.status == "pending" and r.chain_id == chain.chain_id:
                status = await chain.transaction_status(r.tx_hash)
                if status != r.status:
                    r.status = status
                    changed = True
        if changed:
            self._save_history(recs)
            self._emit("history")
        return [r for r in recs if r.chain_id == chain.chain_id]

    def explorer_tx_url(self, tx_hash: str) -> str | None:
        base = self.chain.explorer_url if self.chain is not None else None
        return f"{base.rstrip('/')}/tx/{tx_hash}" if base else None
