"""Typed failures of the peer-to-peer layer.

Each one carries a sentence a person can act on; the wire-level reason goes to ``detail``.
"""

from __future__ import annotations

from app.errors import UserFacingError

# A malformed message and too deep JSON: the base module's, shared with the chain and inference.
from app.jsonsafe import NestingTooDeep as NestingTooDeep
from app.jsonsafe import ProtocolError as ProtocolError


class MessageTooLarge(ProtocolError):
    """The peer sent more bytes than one message may hold."""


class PeerTimeout(ProtocolError):
    """The peer was silent or too slow."""


class CryptoError(UserFacingError):
    """A signature did not verify, or an encrypted payload was damaged."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            "A message from the other node failed its security check and was ignored.",
            detail=reason,
        )
        self.reason = reason


class ProviderUnreachable(UserFacingError):
    """The provider's endpoint did not answer in time."""

    def __init__(self, endpoint: str, detail: str = "") -> None:
        super().__init__(
            f"The provider at {endpoint} cannot be reached right now. It may be offline; "
            "try again later or pick another provider.",
            detail=detail,
        )
        self.endpoint = endpoint


class ProviderRejected(UserFacingError):
    """The provider answered with an error reply (§5.7)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"The provider refused the request: {reason}", detail=reason)
        self.reason = reason


class ProviderMisbehaved(UserFacingError):
    """The provider answered, but its answer failed verification (wrong signer, bad approval)."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            "The provider's answer could not be trusted, so it was not used. "
            "Pick another provider.",
            detail=reason,
        )
        self.reason = reason
