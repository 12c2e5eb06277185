"""The one error every signing path raises while the wallet is locked (jobs wait on it)."""

from __future__ import annotations

from app.errors import UserFacingError


class WalletLocked(UserFacingError):
    """Signing was asked for while the wallet is locked; unlocking lets the caller go on."""

    def __init__(
        self, message: str = "The wallet is locked. Unlock it with your password."
    ) -> None:
        super().__init__(message)
