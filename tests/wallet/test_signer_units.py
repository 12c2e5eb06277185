"""The signer's three signature kinds, private key parsing, and typed amount/address parsing."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak

from app.wallet.errors import InvalidAddress, InvalidAmount, InvalidPrivateKey
from app.wallet.signer import LocalSigner, Signer, parse_private_key, recover_raw_hash_signer
from app.wallet.units import format_amount, parse_amount, validate_address

KEY_HEX = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ADDR = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def test_local_signer_is_a_signer_with_its_address_and_pubkey() -> None:
    s = LocalSigner(bytes.fromhex(KEY_HEX))
    assert isinstance(s, Signer)
    assert s.address == ADDR
    pub = s.public_key_uncompressed
    assert len(pub) == 65 and pub[0] == 4
    assert "0x" + keccak(pub[1:])[-20:].hex() == ADDR.lower()
    assert KEY_HEX not in repr(s)


def test_eip191_signature_over_32_bytes() -> None:
    s = LocalSigner(bytes.fromhex(KEY_HEX))
    h = keccak(b"approval")
    sig = s.sign_message_hash(h)
    assert len(sig) == 65 and sig[64] in (27, 28)
    assert Account.recover_message(encode_defunct(primitive=h), signature=sig) == ADDR


def test_raw_hash_signature_v01_low_s_deterministic() -> None:
    s = LocalSigner(bytes.fromhex(KEY_HEX))
    h = keccak(b'{"nonce":"0x01","signature":"0x"}')
    sig = s.sign_raw_hash(h)
    assert len(sig) == 65 and sig[64] in (0, 1)
    assert int.from_bytes(sig[32:64], "big") <= SECP256K1_N // 2
    assert sig == s.sign_raw_hash(h)
    assert recover_raw_hash_signer(h, sig) == ADDR
    with pytest.raises(ValueError):
        s.sign_raw_hash(b"short")


def test_sign_transaction_recovers_to_sender() -> None:
    s = LocalSigner(bytes.fromhex(KEY_HEX))
    tx = {
        "type": 2,
        "chainId": 31337,
        "nonce": 0,
        "to": ADDR,
        "value": 1,
        "gas": 21000,
        "maxFeePerGas": 2 * 10**9,
        "maxPriorityFeePerGas": 10**9,
        "data": b"",
    }
    raw = s.sign_transaction(tx)
    assert Account.recover_transaction(raw) == ADDR


@pytest.mark.parametrize(
    ("text", "needle"),
    [(KEY_HEX[:-2], "62"), (KEY_HEX + "00", "66"), ("zz" * 32, "0-9"), ("", "0")],
)
def test_bad_private_keys(text: str, needle: str) -> None:
    with pytest.raises(InvalidPrivateKey) as ei:
        parse_private_key(text)
    assert needle in ei.value.message


def test_out_of_range_private_key() -> None:
    with pytest.raises(InvalidPrivateKey):
        parse_private_key("00" * 32)
    assert parse_private_key("0x" + KEY_HEX) == bytes.fromhex(KEY_HEX)


def test_amounts_are_exact() -> None:
    assert parse_amount("1.5", 18) == 1_500_000_000_000_000_000
    assert parse_amount("0.000000000000000001", 18) == 1
    assert parse_amount(".5", 6) == 500_000
    assert parse_amount("1,000", 18) == 1000 * 10**18
    assert format_amount(1_500_000_000_000_000_000) == "1.5"
    assert format_amount(10**18 * 3) == "3"
    assert format_amount(123_456_789, 6, max_fraction=2) == "123.45"


def test_too_many_decimals() -> None:
    with pytest.raises(InvalidAmount) as ei:
        parse_amount("1.1234567", 6, "USDC")
    assert "6 decimal" in ei.value.message


@pytest.mark.parametrize("text", ["", "abc", "-1", "1e5", "1.2.3", "."])
def test_not_amounts(text: str) -> None:
    with pytest.raises(InvalidAmount):
        parse_amount(text, 18)


def test_addresses() -> None:
    assert validate_address(ADDR.lower()) == ADDR
    assert validate_address("  " + ADDR + " ") == ADDR
    i = next(k for k in range(2, 42) if ADDR[k].isalpha())
    wrong_case = ADDR[:i] + ADDR[i].swapcase() + ADDR[i + 1 :]
    with pytest.raises(InvalidAddress) as ei:
        validate_address(wrong_case)
    assert "checksum" in ei.value.message
    for bad in (
        "",
        "0x123",
        ADDR + "00",
        "f39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "0x" + "g" * 40,
        "0x" + "0" * 40,
    ):
        with pytest.raises(InvalidAddress):
            validate_address(bad)
