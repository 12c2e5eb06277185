"""The chain client's writes: every transaction goes through the ``TxManager`` (simulate, exact
approvals, nonce lock, fee bumps) and reports its hash through ``on_sent`` before waiting."""


from collections.abc import Sequence
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import to_checksum_address

from app.chain import abi
from app.chain.abi import DIAMOND, ERC20, Fn
from app.chain.errors import (
    ChainError,
    InsufficientMor,
)
from app.chain.ids import bid_id as derive_bid_id
from app.chain.ids import model_id as derive_model_id
from app.chain.tx import OnSent, TxReceipt, TxSigner
from app.chain.views import MarketViews
from app.market.types import (
    id_bytes,
    id_hex,
)

# closeSession costs ~120k gas more once the session has run a second (the provider's share is
# paid, the day's part held) than in the block second it opened, which is where a close right
# after the open is estimated; 25% on top of that estimate left it a few thousand gas short of
# the call's needs, and it reverted out of gas (the provider's payout call runs on 63/64 of
# what is left).
CLOSE_GAS_HEADROOM = 150_000


class ChainWriter(MarketViews):
    # -- writes -------------------------------------------------------------------------------

    async def _write(self, signer: TxSigner, fn: Fn, *args: Any, to: str | None = None,
                     value: int = 0, on_sent: OnSent | None = None,
                     description: str = "", gas_headroom: int = 0) -> TxReceipt:
        return await self.tx.send(signer, to or self.diamond, fn.encode(*args) if fn else b"",
                                  value=value, on_sent=on_sent,
                                  description=description or fn.name, gas_headroom=gas_headroom)

    async def require_mor(self, owner: str, amount: int) -> None:
        """Raise ``InsufficientMor`` with the exact shortfall before anything is sent."""
        if amount <= 0:
            return
        balance = await self.mor_balance(owner)
        if balance < amount:
            raise InsufficientMor(needed=amount, balance=balance)

    async def approve(self, signer: TxSigner, amount: int, spender: str | None = None, *,
                      on_sent: OnSent | None = None) -> TxReceipt:
        """Approve exactly ``amount`` (never unlimited) for ``spender`` (default: Diamond)."""
        if amount < 0 or amount >= 2**255:
            raise ChainError("Approvals are only ever made for the exact amount needed.",
                             detail=f"refused approve({amount})")
        return await self._write(signer, ERC20["approve"],
                                 to_checksum_address(spender or self.diamond), amount,
                                 to=self.token, on_sent=on_sent, description="approve MOR")

    async def ensure_allowance(self, signer: TxSigner, amount: int, spender: str | None = None,
                               *, on_sent: OnSent | None = None) -> TxReceipt | None:
        """Approve ``amount`` unless the current allowance already covers it."""
        if amount <= 0:
            return None
        current = await self.allowance(signer.address, spender)
        if current >= amount:
            return None
        return await self.approve(signer, amount, spender, on_sent=on_sent)

    async def _pull(self, signer: TxSigner, principal: str, amount: int,
                    on_sent: OnSent | None) -> None:
        """Before a write that pulls MOR from ``principal``: balance check, exact approval."""
        await self.require_mor(principal, amount)
        if to_checksum_address(principal) == to_checksum_address(signer.address):
            await self.ensure_allowance(signer, amount, on_sent=on_sent)

    async def provider_register(self, signer: TxSigner, amount: int, endpoint: str, *,
                                provider: str | None = None,
                                on_sent: OnSent | None = None) -> TxReceipt:
        principal = to_checksum_address(provider or signer.address)
        await self._pull(signer, principal, amount, on_sent)
        return await self._write(signer, DIAMOND["providerRegister"], principal, amount,
                                 endpoint, on_sent=on_sent)

    async def provider_deregister(self, signer: TxSigner, *, provider: str | None = None,
                                  on_sent: OnSent | None = None) -> TxReceipt:
        principal = to_checksum_address(provider or signer.address)
        return await self._write(signer, DIAMOND["providerDeregister"], principal,
                                 on_sent=on_sent)

    async def model_register(self, signer: TxSigner, base_model_id: str | bytes, amount: int,
                             name: str, tags: Sequence[str] = (), *,
                             ipfs_cid: str | bytes = b"\x00" * 32, fee: int = 0,
                             owner: str | None = None,
                             on_sent: OnSent | None = None) -> tuple[str, TxReceipt]:
        """Register (or update) a model; returns its model id."""
        principal = to_checksum_address(owner or signer.address)
        await self._pull(signer, principal, amount, on_sent)
        rec = await self._write(signer, DIAMOND["modelRegister"], principal,
                                id_bytes(base_model_id), id_bytes(ipfs_cid), fee, amount, name,
                                list(tags), on_sent=on_sent)
        return derive_model_id(principal, base_model_id), rec

    async def model_deregister(self, signer: TxSigner, model_id: str | bytes, *,
                               on_sent: OnSent | None = None) -> TxReceipt:
        return await self._write(signer, DIAMOND["modelDeregister"], id_bytes(model_id),
                                 on_sent=on_sent)

    async def post_model_bid(self, signer: TxSigner, model_id: str | bytes,
                             price_per_second: int, *, provider: str | None = None,
                             on_sent: OnSent | None = None) -> tuple[str, TxReceipt]:
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

    async def delete_model_bid(self, signer: TxSigner, bid_id: str | bytes, *,
                               on_sent: OnSent | None = None) -> TxReceipt:
        return await self._write(signer, DIAMOND["deleteModelBid"], id_bytes(bid_id),
                                 on_sent=on_sent)

    async def open_session(self, signer: TxSigner, amount: int, approval: bytes,
                           approval_signature: bytes, *, direct_payment: bool = False,
                           user: str | None = None,
                           on_sent: OnSent | None = None) -> tuple[str, TxReceipt]:
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

    async def close_session(self, signer: TxSigner, receipt: bytes, signature: bytes, *,
                            on_sent: OnSent | None = None) -> TxReceipt:
        return await self._write(signer, DIAMOND["closeSession"], receipt, signature,
                                 on_sent=on_sent, gas_headroom=CLOSE_GAS_HEADROOM)

    async def claim_for_provider(self, signer: TxSigner, session_id: str | bytes, *,
                                 on_sent: OnSent | None = None) -> TxReceipt:
        return await self._write(signer, DIAMOND["claimForProvider"], id_bytes(session_id),
                                 on_sent=on_sent)

    async def withdraw_user_stakes(self, signer: TxSigner, *, iterations: int = 255,
                                   user: str | None = None,
                                   on_sent: OnSent | None = None) -> TxReceipt:
        principal = to_checksum_address(user or signer.address)
        return await self._write(signer, DIAMOND["withdrawUserStakes"], principal, iterations,
                                 on_sent=on_sent)

    async def transfer_mor(self, signer: TxSigner, to: str, amount: int, *,
                           on_sent: OnSent | None = None) -> TxReceipt:
        await self.require_mor(signer.address, amount)
        return await self._write(signer, ERC20["transfer"], to_checksum_address(to), amount,
                                 to=self.token, on_sent=on_sent, description="send MOR")

    async def send_eth(self, signer: TxSigner, to: str, amount: int, *,
                       on_sent: OnSent | None = None) -> TxReceipt:
        return await self.tx.send(signer, to_checksum_address(to), b"", value=amount,
                                  on_sent=on_sent, description="send ETH")
