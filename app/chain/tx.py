"""Sending transactions without losing track of money.

Every write goes: simulate (eth_call; reverts become typed errors before anything is signed) →
estimate gas with a margin → EIP-1559 fees → check the ETH balance covers the worst case →
take the account's nonce under its lock → sign → report the hash (computed from the signed bytes)
to the caller so it is persisted *before* the broadcast (a caller that cannot persist it raises,
and nothing is sent) → broadcast → wait for the receipt, replacing a stuck transaction with the
same nonce and a fee bump of at least 12.5 %.

After a crash, ``tx_state`` asks the chain about a recorded hash: mined (act on its receipt),
pending (wait) or dropped (safe to send again).

There is one ``NonceManager`` per account per ``TxManager``; all tasks share it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from eth_utils import keccak, to_checksum_address

from app.chain.allowance_slots import (
    ALLOWANCE_SELECTOR,
    ALLOWANCE_SLOT_CANDIDATES,
    allowance_key,
    word,
)
from app.chain.errors import (
    ChainError,
    InsufficientEth,
    RpcUnavailable,
    TransactionFailed,
    TransactionTimeout,
    decode_revert,
)
from app.chain.rpc import EthRpcError, RpcPool

log = logging.getLogger(__name__)

GWEI = 10**9
MIN_BUMP_NUM, MIN_BUMP_DEN = 1125, 1000  # +12.5 %: what geth-style mempools require


class TxSigner(Protocol):
    """Anything that can sign for one address (eth_account ``LocalAccount`` fits)."""

    @property
    def address(self) -> str: ...

    def sign_transaction(self, transaction_dict: dict[str, Any]) -> Any: ...


def raw_signed(signed: Any) -> bytes:
    """Accept raw bytes, or eth_account's ``SignedTransaction``."""
    if isinstance(signed, bytes | bytearray):
        return bytes(signed)
    for attr in ("raw_transaction", "rawTransaction"):
        raw = getattr(signed, attr, None)
        if raw is not None:
            return bytes(raw)
    raise TypeError("sign_transaction must return raw bytes or a SignedTransaction")


@dataclass(frozen=True)
class SentTx:
    """Reported as soon as a transaction is signed, just before its broadcast: persist it."""

    tx_hash: str
    nonce: int
    sender: str
    to: str
    value: int
    gas: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    replaces: str | None = None  # hash of the stuck transaction this one replaces
    description: str = ""


@dataclass(frozen=True)
class TxReceipt:
    tx_hash: str
    block_number: int
    status: int
    gas_used: int
    effective_gas_price: int
    logs: tuple[dict[str, Any], ...] = field(default=(), repr=False)

    @property
    def fee_paid(self) -> int:
        return self.gas_used * self.effective_gas_price


OnSent = Callable[[SentTx], Awaitable[None] | None]


@dataclass
class TxPolicy:
    gas_margin_pct: int = 25  # estimated gas × (1 + margin)
    receipt_timeout: float = 180.0
    replace_after: float = 30.0  # seconds without a receipt before a fee bump
    fee_bump_pct: int = 15  # ≥ 12.5
    max_replacements: int = 5
    poll_interval: float = 1.0
    priority_fee_fallback: int = GWEI // 10


class NonceManager:
    """The next nonce of one account. The lock is held from nonce choice to broadcast, so
    concurrent tasks never sign two transactions with the same nonce."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.lock = asyncio.Lock()
        self._next: int | None = None

    async def next_nonce(self, rpc: RpcPool) -> int:
        pending = int(await rpc.request("eth_getTransactionCount", [self.address, "pending"]), 16)
        if self._next is None or pending > self._next:
            self._next = pending
        return self._next

    def used(self, nonce: int) -> None:
        self._next = nonce + 1

    def forget(self) -> None:
        """Re-read from the chain next time (after a failed broadcast)."""
        self._next = None


def _hex(value: int) -> str:
    return hex(value)


def _bumped(value: int, pct: int) -> int:
    pct = max(pct, 13)
    bumped = value * (100 + pct) // 100
    floor = -(-value * MIN_BUMP_NUM // MIN_BUMP_DEN)  # ceil(value × 1.125)
    return max(bumped, floor, value + 1)


class TxManager:
    def __init__(self, rpc: RpcPool, chain_id: int, policy: TxPolicy | None = None) -> None:
        self.rpc = rpc
        self.chain_id = chain_id
        self.policy = policy or TxPolicy()
        self._nonces: dict[str, NonceManager] = {}
        self._allowance_slots: dict[str, int | None] = {}

    def nonce_manager(self, address: str) -> NonceManager:
        key = to_checksum_address(address)
        nm = self._nonces.get(key)
        if nm is None:
            nm = self._nonces[key] = NonceManager(key)
        return nm

    # -- the parts -----------------------------------------------------------------------

    async def simulate(self, sender: str, to: str, data: bytes, value: int = 0,
                       state_override: dict[str, Any] | None = None) -> bytes:
        """eth_call the write; a revert raises its typed error. Returns the return data.
        ``state_override``: eth_call's third parameter (see ``allowance_override``)."""
        call = {"from": sender, "to": to, "data": "0x" + data.hex(), "value": _hex(value)}
        params: list[Any] = [call, "latest"]
        if state_override:
            params.append(state_override)
        try:
            result = await self.rpc.request("eth_call", params)
        except EthRpcError as exc:
            raise self._revert_error(exc) from exc
        return bytes.fromhex(str(result)[2:])

    async def allowance_override(self, token: str, owner: str, spender: str,
                                 amount: int) -> dict[str, Any] | None:
        """A state override giving ``owner`` → ``spender`` an allowance of ``amount`` on
        ``token``, so a write that needs it can be simulated *before* the approve is sent (a
        revert then costs no approve gas). The mapping's storage slot is found once per token by
        probing; None when the node has no state overrides or the layout is unknown."""
        token = to_checksum_address(token)
        if token not in self._allowance_slots:
            self._allowance_slots[token] = await self._find_allowance_slot(token, owner, spender)
        slot = self._allowance_slots[token]
        if slot is None:
            return None
        return {token: {"stateDiff": {allowance_key(owner, spender, slot): word(amount)}}}

    async def _find_allowance_slot(self, token: str, owner: str, spender: str) -> int | None:
        probe = 0x4D4F52_5052_4F4245  # an amount no real allowance has
        data = ALLOWANCE_SELECTOR + bytes(12) + bytes.fromhex(owner[2:]) + bytes(12) \
            + bytes.fromhex(spender[2:])
        call = {"to": token, "data": "0x" + data.hex()}
        for slot in ALLOWANCE_SLOT_CANDIDATES:
            override = {token: {"stateDiff": {allowance_key(owner, spender, slot): word(probe)}}}
            try:
                got = await self.rpc.request("eth_call", [call, "latest", override])
            except (EthRpcError, ChainError):
                return None  # no state overrides on this node
            if int(str(got or "0x0"), 16) == probe:
                return slot
        return None

    async def estimate_gas(self, sender: str, to: str, data: bytes, value: int = 0) -> int:
        call = {"from": sender, "to": to, "data": "0x" + data.hex(), "value": _hex(value)}
        try:
            est = int(await self.rpc.request("eth_estimateGas", [call]), 16)
        except EthRpcError as exc:
            raise self._revert_error(exc) from exc
        return est * (100 + self.policy.gas_margin_pct) // 100

    async def fees(self) -> tuple[int, int]:
        """(maxFeePerGas, maxPriorityFeePerGas): twice the base fee plus the tip, so the
        transaction survives a few full blocks of base-fee growth."""
        block, tip_hex = await self.rpc.batch(
            [("eth_getBlockByNumber", ["latest", False]), ("eth_maxPriorityFeePerGas", [])]
        )
        if isinstance(block, EthRpcError) or not isinstance(block, dict):
            raise RpcUnavailable(f"latest block unreadable: {block!r}")
        base = int(block.get("baseFeePerGas") or "0x0", 16)
        tip = (
            self.policy.priority_fee_fallback
            if isinstance(tip_hex, EthRpcError) or not isinstance(tip_hex, str)
            else int(tip_hex, 16)
        )
        return 2 * base + tip, tip

    @staticmethod
    def _revert_error(exc: EthRpcError) -> ChainError:
        data = exc.revert_data
        if data is not None:
            return decode_revert(data)
        text = exc.message.lower()
        if "insufficient funds" in text:
            return InsufficientEth(needed=1, balance=0)  # refined by callers that know more
        if "revert" in text:
            return decode_revert("0x")
        return ChainError(
            "The network rejected this request.", detail=f"{exc.code}: {exc.message}"
        )

    # -- the whole write -----------------------------------------------------------------

    async def send(
        self,
        signer: TxSigner,
        to: str,
        data: bytes = b"",
        *,
        value: int = 0,
        gas: int | None = None,
        on_sent: OnSent | None = None,
        description: str = "",
        simulate: bool = True,
        max_fee: int | None = None,
        gas_headroom: int = 0,
    ) -> TxReceipt:
        """``max_fee``: the maxFeePerGas the user confirmed; sent as is and never raised by a
        fee bump (a stuck transaction then waits instead of being replaced). ``gas_headroom``:
        gas added to the estimate for a call whose cost depends on the block it lands in (the
        estimate runs against the current block)."""
        sender = to_checksum_address(signer.address)
        to = to_checksum_address(to)
        if value:
            # an ETH amount the account does not have would make the simulation fail with a
            # vague "insufficient funds"; say how much is missing instead
            have = int(await self.rpc.request("eth_getBalance", [sender, "pending"]), 16)
            if have < value:
                max_fee, _ = await self.fees()
                raise InsufficientEth(needed=value + 21_000 * max_fee, balance=have)
        if simulate and data:
            await self.simulate(sender, to, data, value)
        if gas is None:
            gas = await self.estimate_gas(sender, to, data, value) + gas_headroom
        fresh_max, tip = await self.fees()
        capped = max_fee is not None
        max_fee = fresh_max if max_fee is None else max_fee  # a ceiling: only base + tip is paid
        tip = min(tip, max_fee)
        balance = int(await self.rpc.request("eth_getBalance", [sender, "pending"]), 16)
        needed = gas * max_fee + value
        if balance < needed:
            raise InsufficientEth(needed=needed, balance=balance)

        nm = self.nonce_manager(sender)
        async with nm.lock:
            nonce = await nm.next_nonce(self.rpc)
            tx = {
                "type": 2,
                "chainId": self.chain_id,
                "nonce": nonce,
                "to": to,
                "value": value,
                "data": data,
                "gas": gas,
                "maxFeePerGas": max_fee,
                "maxPriorityFeePerGas": tip,
            }
            raw, tx_hash = _signed(signer, tx)
            sent = SentTx(tx_hash, nonce, sender, to, value, gas, max_fee, tip, None, description)
            await _notify(on_sent, sent)  # persisted first: a crash from here on is traceable
            try:
                await self._broadcast(raw, tx_hash, tx, nm)
            except _MaybeSent as unknown:
                # No answer to the broadcast: it may be in the mempool. The caller has the hash
                # and watches it (``tx_state``).
                raise unknown.error from None
            nm.used(nonce)
        return await self._await_receipt(signer, tx, sent, on_sent, capped=capped)

    async def _broadcast(self, raw: bytes, tx_hash: str, tx: dict[str, Any],
                         nm: NonceManager) -> str:
        try:
            await self.rpc.request("eth_sendRawTransaction", ["0x" + raw.hex()])
        except EthRpcError as exc:
            text = exc.message.lower()
            if "already known" in text or "already imported" in text:
                return tx_hash  # a retried POST that had in fact arrived
            nm.forget()
            if "insufficient funds" in text:
                bal = int(await self.rpc.request("eth_getBalance", [nm.address, "pending"]), 16)
                raise InsufficientEth(
                    needed=int(tx["gas"]) * int(tx["maxFeePerGas"]) + int(tx["value"]),
                    balance=bal,
                ) from exc
            if "nonce too low" in text:
                raise ChainError(
                    "This wallet sent another transaction at the same time; please retry.",
                    detail=exc.message,
                ) from exc
            raise ChainError(
                "The network refused the transaction.", detail=f"{exc.code}: {exc.message}"
            ) from exc
        except RpcUnavailable as exc:
            # We cannot know whether it arrived; re-read the nonce from the chain next time.
            nm.forget()
            raise _MaybeSent(tx_hash, exc) from exc
        return tx_hash

    async def receipt(self, tx_hash: str) -> TxReceipt | None:
        """The receipt if mined, else None (for resuming the watch on a recorded hash)."""
        return await self._receipt(tx_hash)

    async def tx_state(self, tx_hash: str) -> tuple[str, TxReceipt | None]:
        """What the chain says about a recorded hash: ("mined", receipt), ("pending", None) while
        a node still holds it, or ("dropped", None) when no node knows it (safe to send again).
        An unreachable node raises ``RpcUnavailable``: never guess "dropped" from silence."""
        r = await self.rpc.request("eth_getTransactionReceipt", [tx_hash])
        if r and r.get("blockNumber"):
            return "mined", _receipt_from(r)
        tx = await self.rpc.request("eth_getTransactionByHash", [tx_hash])
        if not tx:
            return "dropped", None
        # Known but not mined: it can still mine only if its nonce is next in line (or queued
        # behind transactions that can). One behind a gap (the node lost an earlier one, or the
        # chain was rolled back) will not: treat it as dropped, so the work is sent again.
        count = int(await self.rpc.request("eth_getTransactionCount", [tx["from"], "pending"]),
                    16)
        if int(tx["nonce"], 16) >= count:
            self.forget_nonces()
            return "dropped", None
        return "pending", None

    def forget_nonces(self) -> None:
        """Re-read every account's nonce from the chain (after a rollback or a lost tx)."""
        for nm in self._nonces.values():
            nm.forget()

    async def _receipt(self, tx_hash: str) -> TxReceipt | None:
        try:
            r = await self.rpc.request("eth_getTransactionReceipt", [tx_hash])
        except RpcUnavailable:
            return None
        if not r or not r.get("blockNumber"):
            return None
        return _receipt_from(r)

    async def wait_for_receipt(self, tx_hashes: list[str], timeout: float) -> TxReceipt:
        """Poll until one of ``tx_hashes`` (same nonce, so at most one) is mined."""
        deadline = time.monotonic() + timeout
        while True:
            for h in reversed(tx_hashes):
                rec = await self._receipt(h)
                if rec is not None:
                    return rec
            if time.monotonic() >= deadline:
                raise TransactionTimeout(tx_hashes[-1], timeout)
            await asyncio.sleep(self.policy.poll_interval)

    async def _await_receipt(
        self, signer: TxSigner, tx: dict[str, Any], sent: SentTx, on_sent: OnSent | None,
        *, capped: bool = False,
    ) -> TxReceipt:
        pol = self.policy
        hashes = [sent.tx_hash]
        start = time.monotonic()
        replacements = 0
        while True:
            elapsed = time.monotonic() - start
            remaining = pol.receipt_timeout - elapsed
            if remaining <= 0:
                raise TransactionTimeout(hashes[-1], pol.receipt_timeout)
            can_replace = not capped and replacements < pol.max_replacements
            wait = min(remaining, pol.replace_after) if can_replace else remaining
            try:
                rec = await self.wait_for_receipt(hashes, wait)
            except TransactionTimeout:
                if not can_replace or time.monotonic() - start >= pol.receipt_timeout:
                    raise
                rec = None
            if rec is not None:
                if rec.status != 1:
                    reason = await self._failure_reason(sent.sender, tx, rec)
                    raise TransactionFailed(rec.tx_hash, reason)
                return rec
            # stuck: same nonce, higher fees
            tx = dict(tx)
            tx["maxPriorityFeePerGas"] = _bumped(int(tx["maxPriorityFeePerGas"]), pol.fee_bump_pct)
            cur_max, _ = await self.fees()
            tx["maxFeePerGas"] = max(_bumped(int(tx["maxFeePerGas"]), pol.fee_bump_pct), cur_max)
            tx["maxFeePerGas"] = max(int(tx["maxFeePerGas"]), int(tx["maxPriorityFeePerGas"]))
            nm = self.nonce_manager(sent.sender)
            raw, new_hash = _signed(signer, tx)
            replaced = SentTx(
                new_hash, int(tx["nonce"]), sent.sender, sent.to, sent.value, int(tx["gas"]),
                int(tx["maxFeePerGas"]), int(tx["maxPriorityFeePerGas"]), hashes[-1],
                sent.description,
            )
            await _notify(on_sent, replaced)
            try:
                new_hash = await self._broadcast(raw, new_hash, tx, nm)
            except _MaybeSent as unknown:
                new_hash = unknown.tx_hash  # may have arrived: watch it like the others
            except ChainError as exc:
                # "nonce too low" here means one of ours was mined meanwhile: re-check.
                log.info("fee bump not accepted (%s); re-checking receipts", exc.detail)
                nm.used(int(tx["nonce"]))
                rec = await self.wait_for_receipt(hashes, pol.poll_interval)
                if rec.status != 1:
                    reason = await self._failure_reason(sent.sender, tx, rec)
                    raise TransactionFailed(rec.tx_hash, reason) from exc
                return rec
            nm.used(int(tx["nonce"]))
            replacements += 1
            log.info("replaced stuck tx %s with %s", hashes[-1], new_hash)
            hashes.append(new_hash)

    async def _failure_reason(self, sender: str, tx: dict[str, Any], rec: TxReceipt) -> str:
        """Replay the call at the failing block to learn why (best effort)."""
        call = {"from": sender, "to": tx["to"], "data": "0x" + bytes(tx["data"]).hex(),
                "value": _hex(int(tx["value"]))}
        try:
            await self.rpc.request("eth_call", [call, _hex(rec.block_number)])
        except EthRpcError as exc:
            err = self._revert_error(exc)
            return f"{type(err).__name__}: {err.message}"
        except ChainError:
            return ""
        return "out of gas or reverted"


def _signed(signer: TxSigner, tx: dict[str, Any]) -> tuple[bytes, str]:
    """The raw signed transaction and its hash (the hash is known before any broadcast)."""
    raw = raw_signed(signer.sign_transaction(dict(tx)))
    return raw, "0x" + keccak(raw).hex()


def _receipt_from(r: dict[str, Any]) -> TxReceipt:
    return TxReceipt(
        tx_hash=r["transactionHash"],
        block_number=int(r["blockNumber"], 16),
        status=int(r.get("status", "0x1"), 16),
        gas_used=int(r.get("gasUsed", "0x0"), 16),
        effective_gas_price=int(r.get("effectiveGasPrice", "0x0"), 16),
        logs=tuple(r.get("logs") or ()),
    )


class _MaybeSent(Exception):
    def __init__(self, tx_hash: str, error: RpcUnavailable) -> None:
        super().__init__(tx_hash)
        self.tx_hash = tx_hash
        self.error = error


async def _notify(on_sent: OnSent | None, sent: SentTx) -> None:
    if on_sent is None:
        return
    result = on_sent(sent)
    if inspect.isawaitable(result):
        await result
