"""BIP39 and BIP44 against published vectors, and the messages a mistyped phrase gets."""

from __future__ import annotations

import pytest

from app.wallet.errors import InvalidMnemonic
from app.wallet.hd import derive_account, derive_addresses
from app.wallet.mnemonic import (
    generate_mnemonic,
    mnemonic_to_seed,
    suggest_words,
    validate_mnemonic,
)

# Trezor's BIP39 reference vectors (passphrase "TREZOR").
TREZOR_VECTORS = [
    (
        "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
        "about",
        "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c92f"
        "2cf141630c7a3c4ab7c81b2f001698e7463b04",
    ),
    (
        "legal winner thank year wave sausage worth useful legal winner thank yellow",
        "2e8905819b8723fe2c1d161860e5ee1830318dbf49a83bd451cfb8440c28bd6fa457fe1296106559a3c80937a1"
        "c1069be3a3a5bd381ee6260e8d9739fce1f607",
    ),
    (
        "letter advice cage absurd amount doctor acoustic avoid letter advice cage above",
        "d71de856f81a8acc65e6fc851a38d4d7ec216fd0796d0a6827a3ad6ed5511a30fa280f12eb2e47ed2ac03b5c46"
        "2a0358d18d69fe4f985ec81778c1b370b652a8",
    ),
    (
        "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong",
        "ac27495480225222079d7be181583751e86f571027b0497b5b5d11218e0a8a13332572917f0f8e5a589620c6f1"
        "5b11c61dee327651a14c34e18231052e48c069",
    ),
    (
        " ".join(["abandon"] * 23 + ["art"]),
        "bda85446c68413707090a52022edd26a1c9462295029f2e60cd7c4f2bbd3097170af7a4d73245cafa9c3cca8d5"
        "61a7c3de6f5d4a10be8ed2a5e608d68f92fcc8",
    ),
]

HARDHAT = "test test test test test test test test test test test junk"


@pytest.mark.parametrize(("phrase", "seed_hex"), TREZOR_VECTORS)
def test_trezor_bip39_vectors(phrase: str, seed_hex: str) -> None:
    assert validate_mnemonic(phrase) == phrase
    assert mnemonic_to_seed(phrase, "TREZOR").hex() == seed_hex


def test_bip44_well_known_accounts() -> None:
    acct = derive_account(HARDHAT, 0)
    assert acct.address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert acct.key.hex().removeprefix("0x") == (
        "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
    )
    addrs = derive_addresses(HARDHAT, 10)
    assert len(addrs) == len(set(addrs)) == 10
    assert addrs[1] == "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    assert addrs[2] == "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
    assert addrs[9] == "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"


def test_generated_phrases_are_valid_and_distinct() -> None:
    a, b = generate_mnemonic(12), generate_mnemonic(24)
    assert len(a.split()) == 12 and len(b.split()) == 24
    assert validate_mnemonic(a) == a and validate_mnemonic(b) == b
    assert generate_mnemonic(12) != a
    with pytest.raises(InvalidMnemonic):
        generate_mnemonic(13)


def test_extra_spaces_and_capitals_are_tolerated() -> None:
    messy = "  Legal WINNER thank year wave\nsausage worth useful legal winner thank   yellow "
    assert validate_mnemonic(messy) == TREZOR_VECTORS[1][0]


def test_mistyped_word_gets_suggestions() -> None:
    phrase = "legal winner thank year wave sausage worht useful legal winner thank yellow"
    with pytest.raises(InvalidMnemonic) as ei:
        validate_mnemonic(phrase)
    assert 7 in ei.value.suggestions
    assert "worth" in ei.value.suggestions[7]
    assert "word 7" in ei.value.message and "worth" in ei.value.message
    assert "abandon" in suggest_words("abandn")
    assert suggest_words("zoo") == ["zoo"] or "zoo" in suggest_words("zoo")


def test_bad_checksum_is_explained() -> None:
    with pytest.raises(InvalidMnemonic) as ei:
        validate_mnemonic(" ".join(["abandon"] * 12))
    assert "checksum" in ei.value.message
    assert ei.value.suggestions == {}


@pytest.mark.parametrize("count", [11, 13])
def test_wrong_word_count(count: int) -> None:
    with pytest.raises(InvalidMnemonic) as ei:
        validate_mnemonic(" ".join(["abandon"] * count))
    assert str(count) in ei.value.message
