"""The root of every error a user can act on.

Each subclass carries a message written for a person who does not know what a nonce is; the
technical detail goes to ``detail`` and to the log, never in place of the message.
"""

from __future__ import annotations


class UserFacingError(Exception):
    """An error whose ``message`` can be shown as-is in a dialog or printed by the CLI."""

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return self.message
