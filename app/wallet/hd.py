"""BIP44 derivation for Ethereum accounts: m/44'/60'/0'/0/i, as MetaMask and Ledger Live."""

from __future__ import annotations

from eth_account import Account
from eth_account.signers.local import LocalAccount

from app.wallet.mnemonic import validate_mnemonic

ACCOUNT_PICKER_SIZE = 10
MAX_ACCOUNT_INDEX = 2**31 - 1

Account.enable_unaudited_hdwallet_features()


def account_path(index: int) -> str:
    if not 0 <= index <= MAX_ACCOUNT_INDEX:
        raise ValueError(f"account index out of range: {index}")
    return f"m/44'/60'/0'/0/{index}"


def derive_account(phrase: str, index: int = 0, passphrase: str = "") -> LocalAccount:
    return Account.from_mnemonic(
        validate_mnemonic(phrase), passphrase=passphrase, account_path=account_path(index)
    )


def derive_addresses(
    phrase: str, count: int = ACCOUNT_PICKER_SIZE, passphrase: str = ""
) -> list[str]:
    """Checksummed addresses of the first ``count`` accounts, for the account picker."""
    return [derive_account(phrase, i, passphrase).address for i in range(count)]
