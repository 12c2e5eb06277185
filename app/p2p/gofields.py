"""Decoding MOR-RPC JSON the way the Go node does (spec §5.8.1), for values a stranger can send.

- ``loads_go``: a depth-checked frame → Python values; duplicate keys keep the *last* value and
  object order follows each key's last occurrence; ``NaN``/``Infinity`` are refused (Go has none).
- ``field_index``: Go matches JSON keys to struct fields case-insensitively with Unicode simple
  folding; the last key that folds to a field's name wins. Our field names are ASCII, and the only
  non-ASCII runes whose fold orbit holds an ASCII letter are KELVIN SIGN (k) and LONG S (s), so
  that table is exact for matching against them.
- Field parsers mirror the node's types: ``HexString`` (go-ethereum ``FromHex`` on the raw JSON
  text: optional 0x, odd length padded, decoding stops at the first bad pair, a bare number is hex
  digits, escapes are not undone), ``BigInt`` (``big.Int.SetString(text, 10)`` on the raw text:
  sign allowed, ``null`` refused), ``common.Address``/``Hash`` (strict 0x hex, JSON string only),
  ``uint64`` (JSON number), ``string`` (invalid UTF-8 becomes U+FFFD).

Escapes are invisible after ``json.loads``; when a frame has any, strings are decoded through a
hook that keeps each escaped string's raw text (``EscapedStr.raw``) for the hex and number rules.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
import re
from typing import Any, Final

from app.p2p.errors import ProtocolError

UINT64_MAX = 2**64 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
ZERO_ADDRESS = "0x" + "0" * 40
MAX_BIGINT_DIGITS = 4000  # Python's int() refuses 4300+; a spend never needs more than 78


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()  # the key is absent (Go leaves the field at its zero value)

_FOLD = str.maketrans(
    {**{chr(c): chr(c - 32) for c in range(ord("a"), ord("z") + 1)}, "\u212a": "K", "\u017f": "S"}
)
_HEX_PAIRS = re.compile(r"(?:[0-9a-fA-F]{2})*")
_SIGNED_DECIMAL = re.compile(r"[+-]?[0-9]+\Z")
_ADDRESS_RE = re.compile(r"0[xX][0-9a-fA-F]{40}\Z")
_BYTES32_RE = re.compile(r"0[xX][0-9a-fA-F]{64}\Z")
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")


def fold(key: str) -> str:
    """Go's ``foldName`` for keys compared with ASCII field names."""
    return key.translate(_FOLD)


def clean_text(value: str) -> str:
    """Lone surrogates (invalid UTF-8/UTF-16 on the wire) become U+FFFD, as in Go's decoder."""
    return _SURROGATE_RE.sub("\ufffd", value) if not value.isascii() else value


# ---------------------------------------------------------------- frame → values


class EscapedStr(str):
    """A JSON string that was written with backslash escapes; ``raw`` is its text as sent."""

    raw: str


def _go_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):  # duplicates: the last one wins, at its own position
        obj = {}
        for key, value in pairs:
            obj.pop(key, None)
            obj[key] = value
    return obj


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_c_scanstring: Any = json.decoder.scanstring  # type: ignore[attr-defined]


def _marking_scanstring(s: str, end: int, strict: bool = True) -> tuple[str, int]:
    value, after = _c_scanstring(s, end, strict)
    if s.find("\\", end, after - 1) < 0:
        return value, after
    marked = EscapedStr(value)
    marked.raw = s[end : after - 1]
    return marked, after


_PLAIN = json.JSONDecoder(object_pairs_hook=_go_object, parse_constant=_no_constants)
_MARKING = json.JSONDecoder(object_pairs_hook=_go_object, parse_constant=_no_constants)
_MARKING.parse_string = _marking_scanstring  # type: ignore[attr-defined]
_MARKING.scan_once = json.scanner.py_make_scanner(_MARKING)  # type: ignore[attr-defined]


def loads_go(raw: bytes, *, escapes: bool = True) -> Any:
    """One complete frame whose nesting the scanner already bounded → values, Go's rules."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "surrogateescape")  # each bad byte → U+FFFD later, as Go
    try:
        return (_MARKING if escapes else _PLAIN).decode(text)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"invalid JSON: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"invalid JSON: {exc}") from None


def field_index(obj: dict[str, Any]) -> dict[str, Any]:
    """Folded key → value of the last key with that fold (what Go assigns to the field)."""
    return {fold(k): v for k, v in obj.items()}


def lookup(obj: dict[str, Any], key: str) -> Any:
    """The value Go would put in field ``key`` (``MISSING`` when no key matches)."""
    return field_index(obj).get(fold(key), MISSING)


# ---------------------------------------------------------------- field parsers


def raw_text(value: Any) -> str | None:
    """The JSON text a Go ``UnmarshalJSON`` receives for this value (None: key absent)."""
    if value is MISSING:
        return None
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, EscapedStr):
        return '"' + value.raw + '"'
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, int | float):
        return repr(value)
    return "{" if isinstance(value, dict) else "["


def _unquote(text: str) -> str:
    return text[1:-1] if text[:1] == '"' else text


def from_hex(text: str) -> bytes:
    """go-ethereum ``common.FromHex``: the bytes decoded before the first invalid pair."""
    if text[:2] in ("0x", "0X"):
        text = text[2:]
    if len(text) % 2:
        text = "0" + text
    match = _HEX_PAIRS.match(text)
    return bytes.fromhex(match.group()) if match else b""


def parse_hex(value: Any, name: str) -> bytes:
    """``lib.HexString``: never an error by itself; required fields then catch empty values."""
    text = raw_text(value)
    return b"" if text is None else from_hex(_unquote(text))


def parse_bigint(value: Any, name: str) -> int:
    """``lib.BigInt``: decimal with an optional sign, quoted or not; ``null`` is refused."""
    text = raw_text(value)
    if text is None:
        return 0
    digits = _unquote(text)
    if not _SIGNED_DECIMAL.match(digits):
        raise ProtocolError(f"{name} is not a decimal integer")
    if len(digits) > MAX_BIGINT_DIGITS:
        raise ProtocolError(f"{name} has too many digits")
    return int(digits)


def _fixed_hex(value: Any, name: str, pattern: re.Pattern[str], what: str) -> str | None:
    if value is MISSING:
        return None
    if not isinstance(value, str) or isinstance(value, EscapedStr) or not pattern.match(value):
        raise ProtocolError(f"{name} is not a 0x-prefixed {what}")
    return value


def parse_address(value: Any, name: str) -> str:
    text = _fixed_hex(value, name, _ADDRESS_RE, "20-byte address")
    return ZERO_ADDRESS if text is None else "0x" + text[2:].lower()


def parse_bytes32(value: Any, name: str) -> bytes:
    text = _fixed_hex(value, name, _BYTES32_RE, "32-byte hex value")
    return bytes(32) if text is None else bytes.fromhex(text[2:])


def parse_uint(value: Any, name: str, maximum: int = UINT64_MAX) -> int:
    if value is MISSING or value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ProtocolError(f"{name} is not an unsigned integer")
    return value


def parse_int(value: Any, name: str) -> int:
    if value is MISSING or value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not INT64_MIN <= value <= INT64_MAX:
        raise ProtocolError(f"{name} is not an integer")
    return value


def parse_string(value: Any, name: str) -> str:
    if value is MISSING or value is None:
        return ""
    if not isinstance(value, str):
        raise ProtocolError(f"{name} is not a string")
    return clean_text(str(value))


def parse_bool(value: Any, name: str) -> bool:
    if value is MISSING or value is None:
        return False
    if not isinstance(value, bool):
        raise ProtocolError(f"{name} is not a boolean")
    return value
