"""Amounts and addresses as the user types them, turned into exact integers and checksummed text.

Money is ``int`` wei everywhere; this module is the only door between text and wei, so a decimal
point can never be lost to floating point.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from eth_utils import is_checksum_address, to_checksum_address

from app.wallet.errors import InvalidAddress, InvalidAmount

_AMOUNT_RE = re.compile(r"^\d*(\.\d*)?$")
_HEX_ADDR = re.compile(r"^0[xX][0-9a-fA-F]{40}$")


def parse_amount(text: str, decimals: int, symbol: str = "") -> int:
    """``"1.5"`` with 18 decimals → 1500000000000000000; too many decimals is an error."""
    s = text.strip().replace(",", "").replace("_", "")
    unit = f" {symbol}" if symbol else ""
    if not s or s == "." or not _AMOUNT_RE.match(s):
        raise InvalidAmount(f"\u201c{text.strip()}\u201d is not an amount. Type a number like 1.5.")
    whole, _, frac = s.partition(".")
    if len(frac) > decimals:
        raise InvalidAmount(
            f"{symbol or 'This token'} has {decimals} decimal places; \u201c{s}\u201d has "
            f"{len(frac)}. Round the amount to at most {decimals} digits after the point."
        )
    try:
        value = int(whole or "0") * 10**decimals + int((frac or "0").ljust(decimals, "0") or "0")
    except (ValueError, InvalidOperation) as exc:  # pragma: no cover - regex already guards
        raise InvalidAmount(f"\u201c{s}\u201d is not an amount{unit}.") from exc
    return value


def format_amount(wei: int, decimals: int = 18, max_fraction: int | None = None) -> str:
    """Exact decimal text, trailing zeros trimmed; ``max_fraction`` rounds down for display."""
    sign = "-" if wei < 0 else ""
    q, r = divmod(abs(wei), 10**decimals)
    frac = str(r).rjust(decimals, "0") if decimals else ""
    if max_fraction is not None:
        frac = frac[:max_fraction]
    frac = frac.rstrip("0")
    return f"{sign}{q}.{frac}" if frac else f"{sign}{q}"


def to_decimal(wei: int, decimals: int = 18) -> Decimal:
    return Decimal(wei).scaleb(-decimals)


def validate_address(text: str) -> str:
    """A checksummed address, or ``InvalidAddress`` saying what is wrong with the text."""
    s = text.strip()
    if not s:
        raise InvalidAddress("Enter the address to send to (it starts with 0x).")
    if not _HEX_ADDR.match(s):
        raise InvalidAddress(
            "That is not an Ethereum address: it must be 0x followed by 40 characters 0-9 and a-f."
        )
    body = s[2:]
    mixed = body != body.lower() and body != body.upper()
    if mixed and not is_checksum_address("0x" + body):
        raise InvalidAddress(
            "This address has a typo: its upper/lower-case letters do not match its checksum. "
            "Copy it again from the source."
        )
    addr = str(to_checksum_address("0x" + body))
    if int(addr, 16) == 0:
        raise InvalidAddress("Sending to the zero address would destroy the funds.")
    return addr
