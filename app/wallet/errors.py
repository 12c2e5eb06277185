"""Typed wallet errors, each with a message a non-technical person can act on."""

from __future__ import annotations

from app.errors import UserFacingError

# Re-exported: its home is app.wallet.locking, shared with the background jobs.
from app.wallet.locking import WalletLocked as WalletLocked


class WalletError(UserFacingError):
    """Base of every wallet problem the user can fix."""


class InvalidMnemonic(WalletError):
    """A recovery phrase with an unknown word, a wrong word count or a bad checksum.

    ``suggestions`` maps each unknown word (by position, 1-based) to close words from the list.
    """

    def __init__(
        self, message: str, *, suggestions: dict[int, list[str]] | None = None, detail: str = ""
    ) -> None:
        super().__init__(message, detail=detail)
        self.suggestions: dict[int, list[str]] = suggestions or {}


class InvalidPrivateKey(WalletError):
    pass


class WrongPassword(WalletError):
    def __init__(self, message: str = "That password is not right. Please try again.") -> None:
        super().__init__(message)


class CorruptWalletFile(WalletError):
    """A wallet or keystore file that cannot be read; the file itself is never touched."""


class UnsupportedKeystore(WalletError):
    pass


class NoWallet(WalletError):
    def __init__(
        self, message: str = "There is no wallet yet. Create or import one first."
    ) -> None:
        super().__init__(message)


class WalletExists(WalletError):
    pass


class WeakPassword(WalletError):
    pass


class InvalidAddress(WalletError):
    pass


class InvalidAmount(WalletError):
    pass


class InsufficientFunds(WalletError):
    def __init__(self, message: str, *, missing: int = 0) -> None:
        super().__init__(message)
        self.missing = missing


class InsufficientGas(InsufficientFunds):
    """Not enough ETH to pay the network fee; ``missing`` is the exact shortfall in wei."""


class TestKeyRefused(WalletError):
    """A publicly known development key asked to sign on a real network."""

    __test__ = False  # not a pytest class, whatever its name says


class FeeRose(WalletError):
    """The network now needs more than the fee the user confirmed; ``quote`` is the new one."""

    def __init__(self, message: str, *, quote: object = None) -> None:
        super().__init__(message)
        self.quote = quote
