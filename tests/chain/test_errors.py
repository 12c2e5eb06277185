"""Revert data → typed errors: every custom error of spec §2.9 (both spellings), ERC-20 and
ECDSA strings, panics, and unknown selectors that must keep their hex."""

from __future__ import annotations

import pytest
from eth_abi import encode

from app.chain import errors as e
from app.errors import UserFacingError

# spec §2.9, copied as facts: selector -> error class we promise for it
SPEC = {
    "bcc35dcc": e.ProviderStakeTooLow, "f6c1fedc": e.ProviderHasActiveBids,
    "b1cd0903": e.ProviderNotFound, "15b52eb4": e.ProviderHasAlreadyDeregistered,
    "5ac22984": e.ContractReverted, "943a78fe": e.ContractReverted,
    "af027e2e": e.ContractReverted, "2f7895f5": e.ModelStakeTooLow,
    "b0835d39": e.ModelHasAlreadyDeregistered, "633910a0": e.ModelHasActiveBids,
    "897b047d": e.ModelNotFound, "8d0285d4": e.MarketplaceProviderNotFound,
    "0e68881c": e.MarketplaceModelNotFound, "33ac0973": e.MarketplaceActiveBidNotFound,
    "6261483d": e.ContractReverted, "5dcc0631": e.ContractReverted,
    "9c7f2f48": e.BidPriceInvalid, "864d4cb3": e.MarketplaceFeeAmountIsZero,
    "453ede6a": e.SessionProviderSignatureMismatch, "4db74c88": e.SessionApproveExpired,
    "adf95488": e.SessionWrongChain, "684df34c": e.SessionDuplicateApproval,
    "4069702a": e.SessionWrongChain, "b55af04a": e.SessionReceiptExpired,
    "f4d7eed5": e.SessionTooShort, "e9fb372e": e.SessionAlreadyClosed,
    "1de03f33": e.SessionBidNotFound, "4bb51606": e.ContractReverted,
    "c41b8c4d": e.SessionUserAmountToWithdrawIsZero, "f0f669df": e.ContractReverted,
    "63e209ea": e.SessionStakeTooLow, "49470e18": e.ContractReverted,
    "2c8f1adb": e.ContractReverted, "907f554e": e.ContractReverted,
    "69edda4d": e.SessionApproveExpired, "a468d1f9": e.SessionWrongChain,
    "c5bbe0c3": e.SessionReceiptExpired, "d3dd539c": e.SessionWrongChain,
    "2e980d14": e.InsufficientRights, "118cdaa7": e.NotOwner,
}


def test_every_spec_selector_is_known() -> None:
    assert set(e.ERROR_SELECTORS) == set(SPEC)


@pytest.mark.parametrize(("sel", "cls"), sorted(SPEC.items()))
def test_each_selector_decodes_to_its_type(sel: str, cls: type[e.ContractReverted]) -> None:
    sig = e.ERROR_SELECTORS[sel][0]
    arg_types = sig[sig.index("(") + 1 : -1]
    args: list[object] = []
    if arg_types == "uint256,uint256":
        args = [1, 2]
    elif arg_types == "address,address":
        args = ["0x" + "11" * 20, "0x" + "22" * 20]
    elif arg_types == "address":
        args = ["0x" + "33" * 20]
    body = encode(arg_types.split(","), args) if arg_types else b""
    err = e.decode_revert("0x" + sel + body.hex())
    assert type(err) is cls
    assert isinstance(err, UserFacingError)
    assert err.message and "0x" not in err.message  # plain language, no hex for known errors
    assert sel in err.detail


def test_stake_too_low_names_amounts() -> None:
    data = "0xbcc35dcc" + encode(["uint256", "uint256"], [10**17, 2 * 10**17]).hex()
    err = e.decode_revert(data)
    assert isinstance(err, e.ProviderStakeTooLow)
    assert err.args_decoded == (10**17, 2 * 10**17)
    assert "0.1 MOR" in err.message and "0.2 MOR" in err.message


def _error_string(text: str) -> str:
    return "0x08c379a0" + encode(["string"], [text]).hex()


@pytest.mark.parametrize(("reason", "cls"), [
    ("ERC20: insufficient allowance", e.InsufficientAllowance),
    ("ERC20: transfer amount exceeds balance", e.InsufficientMor),
    ("ECDSA: invalid signature length", e.InvalidSignature),
    ("ECDSA: invalid signature 's' value", e.InvalidSignature),
    ("ECDSA: invalid signature", e.InvalidSignature),
])
def test_library_strings(reason: str, cls: type[Exception]) -> None:
    err = e.decode_revert(_error_string(reason))
    assert isinstance(err, cls) and isinstance(err, e.ContractReverted)


def test_other_strings_are_shown() -> None:
    err = e.decode_revert(_error_string("Diamond: selector is not registered"))
    assert isinstance(err, e.RevertString)
    assert "selector is not registered" in err.message


@pytest.mark.parametrize(("code", "words"), [(0x11, "below zero"), (0x32, "outside a list")])
def test_panics(code: int, words: str) -> None:
    err = e.decode_revert("0x4e487b71" + encode(["uint256"], [code]).hex())
    assert isinstance(err, e.Panic) and err.code == code and words in err.message


@pytest.mark.parametrize("data", ["0xdeadbeef", "0xdeadbeef" + "00" * 64, b"\xde\xad\xbe\xef"])
def test_unknown_selector_keeps_hex(data: str | bytes) -> None:
    err = e.decode_revert(data)
    assert type(err) is e.ContractReverted
    assert "0xdeadbeef" in err.message
    assert err.data.startswith("0xdeadbeef")


@pytest.mark.parametrize("data", ["0x", "", None, "0x1234"])
def test_empty_or_short_revert(data: str | None) -> None:
    err = e.decode_revert(data)
    assert type(err) is e.ContractReverted and "without giving a reason" in err.message


def test_insufficient_gas_message_has_exact_missing_amount() -> None:
    err = e.InsufficientEth(needed=3 * 10**15, balance=10**15)
    assert err.missing == 2 * 10**15
    assert "0.002 ETH more is needed" in err.message


def test_wrong_chain_message() -> None:
    err = e.WrongChain(8453, 1, "https://x")
    assert "chain id 1" in err.message and "8453" in err.message
