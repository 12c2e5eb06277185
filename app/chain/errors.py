"""Typed chain errors and the decoder that turns revert data into them.

Every revert a user can hit is mapped to a subclass of ``UserFacingError`` with a message a
person who has never heard of gas can act on; the raw revert data stays in ``detail``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from app.errors import UserFacingError

WEI = 10**18


def _fmt(amount: int, unit: str) -> str:
    """Human amount for messages: 18-decimal fixed point, trailing zeros trimmed."""
    whole, frac = divmod(abs(amount), WEI)
    text = f"{whole}.{frac:018d}".rstrip("0").rstrip(".")
    return f"{'-' if amount < 0 else ''}{text} {unit}"


class ChainError(UserFacingError):
    """Base of everything the chain layer raises on purpose."""


class RpcUnavailable(ChainError):
    """No configured RPC endpoint answered sensibly."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "The blockchain network could not be reached. Check your internet connection, "
            "or add another RPC address in the network settings.",
            detail=detail,
        )


class WrongChain(ChainError):
    def __init__(self, expected: int, actual: int, url: str = "") -> None:
        super().__init__(
            f"This RPC address belongs to a different network (chain id {actual}) than the "
            f"one selected (chain id {expected}). Pick the matching network or another RPC "
            "address.",
            detail=f"url={url} expected={expected} actual={actual}",
        )
        self.expected = expected
        self.actual = actual


class ContractNotFound(ChainError):
    def __init__(self, what: str, address: str) -> None:
        super().__init__(
            f"No {what} contract was found at {address} on this network. The network settings "
            "are probably wrong.",
            detail=f"{what} at {address} has no code",
        )
        self.address = address


class InsufficientEth(ChainError):
    """The account lacks ETH for the network fee (plus any ETH value sent)."""

    def __init__(self, needed: int, balance: int) -> None:
        self.needed = needed
        self.balance = balance
        self.missing = needed - balance
        super().__init__(
            f"Not enough ETH for this transaction and its network fee: "
            f"{_fmt(self.missing, 'ETH')} more is needed (you have {_fmt(balance, 'ETH')}, "
            f"this needs up to {_fmt(needed, 'ETH')}).",
            detail=f"needed={needed} balance={balance}",
        )


class InsufficientMor(ChainError):
    def __init__(self, needed: int = 0, balance: int = 0, detail: str = "") -> None:
        self.needed = needed
        self.balance = balance
        self.missing = max(0, needed - balance)
        if needed:
            msg = (
                f"Not enough MOR: {_fmt(self.missing, 'MOR')} more is needed "
                f"(you have {_fmt(balance, 'MOR')}, this needs {_fmt(needed, 'MOR')})."
            )
        else:
            msg = "Not enough MOR in this wallet for this action."
        super().__init__(msg, detail=detail or f"needed={needed} balance={balance}")


class InsufficientAllowance(ChainError):
    def __init__(self, detail: str = "") -> None:
        super().__init__(
            "The Morpheus contract is not allowed to use enough of your MOR yet. Approve the "
            "amount first, then try again.",
            detail=detail,
        )


class TransactionTimeout(ChainError):
    def __init__(self, tx_hash: str, seconds: float) -> None:
        super().__init__(
            f"The transaction was sent but not confirmed within {seconds:.0f} seconds. It may "
            "still go through; it is being tracked.",
            detail=f"tx={tx_hash}",
        )
        self.tx_hash = tx_hash


class TransactionFailed(ChainError):
    """Mined but reverted (status 0)."""

    def __init__(self, tx_hash: str, detail: str = "") -> None:
        super().__init__(
            "The transaction was included in a block but failed; no change was made except "
            "the network fee.",
            detail=f"tx={tx_hash} {detail}".strip(),
        )
        self.tx_hash = tx_hash


class ContractReverted(ChainError):
    """A revert; the base of every decoded contract error. ``data`` is the raw revert hex."""

    default_message = "The Morpheus contract refused this action."

    def __init__(self, message: str = "", *, data: str = "", args: tuple[object, ...] = ()):
        self.data = data
        self.args_decoded = args
        super().__init__(message or self.default_message, detail=f"revert data {data or '0x'}")


class RevertString(ContractReverted):
    """``Error(string)`` with a text we have no better mapping for."""

    def __init__(self, reason: str, *, data: str = "") -> None:
        self.reason = reason
        super().__init__(f"The contract refused this action: {reason}", data=data)


class Panic(ContractReverted):
    CODES: ClassVar[dict[int, str]] = {
        0x01: "an internal check failed",
        0x11: "an amount went below zero or overflowed",
        0x12: "a division by zero",
        0x21: "an invalid value was used",
        0x32: "an item outside a list was read",
        0x41: "too much memory was needed",
    }

    def __init__(self, code: int, *, data: str = "") -> None:
        self.code = code
        what = self.CODES.get(code, f"panic code 0x{code:02x}")
        super().__init__(
            f"The contract stopped because {what}. Nothing changed; try again later "
            "(for provider claims: usually the next UTC day).",
            data=data,
        )


class InvalidSignature(ContractReverted):
    default_message = "A signature in this request is malformed, so the contract rejected it."


# --- Custom errors of spec §2.9 -------------------------------------------------------------


class ProviderStakeTooLow(ContractReverted):
    default_message = "The provider stake is below the network's minimum."


class ProviderHasActiveBids(ContractReverted):
    default_message = "Delete your active bids before deregistering as a provider."


class ProviderNotFound(ContractReverted):
    default_message = "This address is not registered as a provider."


class ProviderHasAlreadyDeregistered(ContractReverted):
    default_message = "This provider is already deregistered."


class ModelStakeTooLow(ContractReverted):
    default_message = "The model stake is below the network's minimum."


class ModelHasAlreadyDeregistered(ContractReverted):
    default_message = "This model is already deregistered."


class ModelHasActiveBids(ContractReverted):
    default_message = "This model still has active bids, so it cannot be deregistered."


class ModelNotFound(ContractReverted):
    default_message = "This model does not exist."


class MarketplaceProviderNotFound(ContractReverted):
    default_message = "Register as a provider before posting a bid."


class MarketplaceModelNotFound(ContractReverted):
    default_message = "This model is not active on the marketplace."


class MarketplaceActiveBidNotFound(ContractReverted):
    default_message = "This bid is not active (already deleted or never existed)."


class BidPriceInvalid(ContractReverted):
    default_message = "The price per second is outside the range the network allows."


class MarketplaceFeeAmountIsZero(ContractReverted):
    default_message = "There are no marketplace fees to withdraw."


class SessionProviderSignatureMismatch(ContractReverted):
    default_message = "The provider's approval signature is not valid for this bid."


class SessionApproveExpired(ContractReverted):
    default_message = "The provider's approval expired. Ask the provider again and retry."


class SessionWrongChain(ContractReverted):
    default_message = "The provider signed this for a different network."


class SessionDuplicateApproval(ContractReverted):
    default_message = "This provider approval was already used. Ask the provider again."


class SessionReceiptExpired(ContractReverted):
    default_message = "The closing receipt expired. Close the session again."


class SessionTooShort(ContractReverted):
    default_message = (
        "The stake is too small: the session would last less than 5 minutes. Stake more MOR."
    )


class SessionAlreadyClosed(ContractReverted):
    default_message = "This session is already closed."


class SessionBidNotFound(ContractReverted):
    default_message = "The provider's bid is no longer active. Pick another provider."


class SessionUserAmountToWithdrawIsZero(ContractReverted):
    default_message = "There is no released stake to withdraw yet (stakes unlock at UTC midnight)."


class SessionStakeTooLow(ContractReverted):
    default_message = "The stake does not cover the session's cost."


class InsufficientRights(ContractReverted):
    default_message = "This wallet is not allowed to act for that account on the Morpheus contract."


class NotOwner(ContractReverted):
    default_message = "Only the contract owner can do this."


_ERRORS: list[tuple[str, type[ContractReverted], str]] = [
    ("ProviderStakeTooLow(uint256,uint256)", ProviderStakeTooLow, ""),
    ("ProviderHasActiveBids()", ProviderHasActiveBids, ""),
    ("ProviderNotFound()", ProviderNotFound, ""),
    ("ProviderHasAlreadyDeregistered()", ProviderHasAlreadyDeregistered, ""),
    ("ProviderNotDeregistered()", ContractReverted, "The provider is still registered."),
    ("ProviderNoStake()", ContractReverted, "The provider has no stake."),
    ("ProviderNothingToWithdraw()", ContractReverted, "The provider has nothing to withdraw."),
    ("ModelStakeTooLow(uint256,uint256)", ModelStakeTooLow, ""),
    ("ModelHasAlreadyDeregistered()", ModelHasAlreadyDeregistered, ""),
    ("ModelHasActiveBids()", ModelHasActiveBids, ""),
    ("ModelNotFound()", ModelNotFound, ""),
    ("MarketplaceProviderNotFound()", MarketplaceProviderNotFound, ""),
    ("MarketplaceModelNotFound()", MarketplaceModelNotFound, ""),
    ("MarketplaceActiveBidNotFound()", MarketplaceActiveBidNotFound, ""),
    ("MarketplaceBidMinPricePerSecondIsZero()", ContractReverted,
     "The minimum bid price cannot be zero."),
    ("MarketplaceBidMinPricePerSecondIsInvalid()", ContractReverted,
     "The minimum bid price must not exceed the maximum."),
    ("MarketplaceBidPricePerSecondInvalid()", BidPriceInvalid, ""),
    ("MarketplaceFeeAmountIsZero()", MarketplaceFeeAmountIsZero, ""),
    ("SessionProviderSignatureMismatch()", SessionProviderSignatureMismatch, ""),
    ("SessionApproveExpired()", SessionApproveExpired, ""),
    ("SessionApprovedForAnotherChainId()", SessionWrongChain, ""),
    ("SessionDuplicateApproval()", SessionDuplicateApproval, ""),
    ("SessionReceiptForAnotherChainId()", SessionWrongChain,
     "The closing receipt was made for a different network."),
    ("SessionReceiptExpired()", SessionReceiptExpired, ""),
    ("SessionTooShort()", SessionTooShort, ""),
    ("SessionAlreadyClosed()", SessionAlreadyClosed, ""),
    ("SessionBidNotFound()", SessionBidNotFound, ""),
    ("SessionPoolIndexOutOfBounds()", ContractReverted, "That reward pool does not exist."),
    ("SessionUserAmountToWithdrawIsZero()", SessionUserAmountToWithdrawIsZero, ""),
    ("SessionMaxDurationTooShort()", ContractReverted,
     "The maximum session duration must be at least 5 minutes."),
    ("SessionStakeTooLow()", SessionStakeTooLow, ""),
    ("SessionApprovedForAnotherUser()", ContractReverted,
     "The provider approved this session for another user."),
    ("SessionNotEndedOrNotExist()", ContractReverted,
     "This session has not ended yet or does not exist."),
    ("SessionProviderNothingToClaimInThisPeriod()", ContractReverted,
     "There is nothing to claim in this period."),
    # the older Go binding's triple-s spellings: accept both, the live build is not recorded
    ("SesssionApproveExpired()", SessionApproveExpired, ""),
    ("SesssionApprovedForAnotherChainId()", SessionWrongChain, ""),
    ("SesssionReceiptExpired()", SessionReceiptExpired, ""),
    ("SesssionReceiptForAnotherChainId()", SessionWrongChain,
     "The closing receipt was made for a different network."),
    ("InsufficientRightsForOperation(address,address)", InsufficientRights, ""),
    ("OwnableUnauthorizedAccount(address)", NotOwner, ""),
]


def selector(signature: str) -> str:
    """4-byte selector of an error or function signature, as 8 lowercase hex digits."""
    return keccak(text=signature)[:4].hex()


ERROR_SELECTORS: dict[str, tuple[str, type[ContractReverted], str]] = {
    selector(sig): (sig, cls, msg) for sig, cls, msg in _ERRORS
}

_ERROR_STRING = selector("Error(string)")  # 08c379a0
_PANIC = selector("Panic(uint256)")  # 4e487b71

_STRING_MAP: list[tuple[str, Callable[[str, str], ContractReverted]]] = [
    ("ERC20: insufficient allowance", lambda r, d: _wrap(InsufficientAllowanceRevert, r, d)),
    ("ERC20: transfer amount exceeds allowance",
     lambda r, d: _wrap(InsufficientAllowanceRevert, r, d)),
    ("ERC20: transfer amount exceeds balance", lambda r, d: _wrap(InsufficientMorRevert, r, d)),
    ("ERC20: burn amount exceeds balance", lambda r, d: _wrap(InsufficientMorRevert, r, d)),
    ("ECDSA:", lambda r, d: _wrap(InvalidSignature, r, d)),
]


class InsufficientAllowanceRevert(ContractReverted, InsufficientAllowance):
    """The token refused to move MOR because the allowance is too small."""

    def __init__(self, message: str = "", *, data: str = "", args: tuple[object, ...] = ()):
        InsufficientAllowance.__init__(self, detail=f"revert data {data}")
        self.data = data
        self.args_decoded = args


class InsufficientMorRevert(ContractReverted, InsufficientMor):
    """The token refused to move MOR because the balance is too small."""

    def __init__(self, message: str = "", *, data: str = "", args: tuple[object, ...] = ()):
        InsufficientMor.__init__(self, detail=f"revert data {data}")
        self.data = data
        self.args_decoded = args


def _wrap(cls: type[ContractReverted], reason: str, data: str) -> ContractReverted:
    err = cls(data=data, args=(reason,))
    return err


def _normalise_data(data: object) -> str:
    if isinstance(data, bytes | bytearray):
        return "0x" + bytes(data).hex()
    text = str(data or "").strip().lower()
    if text and not text.startswith("0x"):
        text = "0x" + text
    return text


def decode_revert(data: object) -> ContractReverted:
    """Turn raw revert data into the most specific typed error we know.

    Unknown selectors become a plain ``ContractReverted`` carrying the hex, so nothing is hidden.
    """
    hexdata = _normalise_data(data)
    raw = bytes.fromhex(hexdata[2:]) if len(hexdata) > 2 else b""
    if len(raw) < 4:
        return ContractReverted(
            "The contract refused this action without giving a reason.", data=hexdata or "0x"
        )
    sel, body = raw[:4].hex(), raw[4:]
    if sel == _ERROR_STRING:
        try:
            (reason,) = abi_decode(["string"], body)
        except Exception:
            return ContractReverted(data=hexdata)
        for prefix, make in _STRING_MAP:
            if reason.startswith(prefix):
                return make(reason, hexdata)
        return RevertString(reason, data=hexdata)
    if sel == _PANIC:
        try:
            (code,) = abi_decode(["uint256"], body)
        except Exception:
            return ContractReverted(data=hexdata)
        return Panic(int(code), data=hexdata)
    known = ERROR_SELECTORS.get(sel)
    if known is None:
        return ContractReverted(
            f"The contract refused this action with an error this program does not know "
            f"(code 0x{sel}).",
            data=hexdata,
        )
    sig, cls, msg = known
    arg_types = sig[sig.index("(") + 1 : -1]
    args: tuple[object, ...] = ()
    if arg_types:
        try:
            args = tuple(abi_decode(arg_types.split(","), body))
        except Exception:
            args = ()
    args = tuple(to_checksum_address(a) if isinstance(a, str) else a for a in args)
    message = msg
    if cls in (ProviderStakeTooLow, ModelStakeTooLow) and len(args) == 2:
        amount, minimum = args
        assert isinstance(amount, int) and isinstance(minimum, int)
        what = "provider" if cls is ProviderStakeTooLow else "model"
        message = (
            f"The {what} stake would be {_fmt(amount, 'MOR')}, below the network minimum of "
            f"{_fmt(minimum, 'MOR')}."
        )
    err = cls(message, data=hexdata, args=args)
    return err
