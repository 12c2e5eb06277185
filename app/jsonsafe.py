"""JSON from an untrusted source (an RPC reply, a backend's stream, a peer's decrypted chunk),
parsed without letting its shape cost more than its size.

A base module: the chain's RPC pool, the OpenAI-compatible backends and the MOR-RPC wire all read
such JSON, so the bound and its errors live below all of them (``app.p2p.framing`` and
``app.p2p.errors`` re-export them). Nesting is measured at C speed before ``json.loads`` runs:
the interpreter's recursion limit is no defence (py_ecc raises it to 100 000 at import, and the C
stack overflows long before that).
"""

from __future__ import annotations

import json
import re
from array import array
from itertools import accumulate
from typing import Any

from app.errors import UserFacingError

MAX_DEPTH = 512  # Go allows 10 000; no MOR-RPC message or RPC reply needs more than a handful


class ProtocolError(UserFacingError):
    """A message was malformed (bad JSON, wrong types, bad hex, missing fields)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"The other node sent a message we cannot read ({reason}).", detail=reason)
        self.reason = reason


class NestingTooDeep(ProtocolError):
    """JSON nested deeper than we accept (refused before any recursion)."""


_STRINGS = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"', re.DOTALL)
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[]{}")
_DEPTH_STEP = bytes.maketrans(b"[]{}", b"\x01\xff\x01\xff")  # +1 / -1 as signed bytes


def max_depth_of(raw: bytes) -> int:
    """The deepest nesting of a whole JSON document, at C speed: strings removed by one regex
    substitution, everything but brackets deleted, then a running sum over signed bytes."""
    brackets = _STRINGS.sub(b"", raw).translate(None, _NOT_BRACKETS)
    steps = array("b", brackets.translate(_DEPTH_STEP))
    return max(accumulate(steps), default=0)


def loads_bounded(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` for one whole document from an untrusted source (an RPC reply, a decrypted
    chunk, a prompt's own JSON): nesting is measured first, so a deep document is refused, never
    recursed into."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if raw.count(b"[") + raw.count(b"{") > max_depth and max_depth_of(raw) > max_depth:
        raise NestingTooDeep(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"invalid JSON: {exc}") from None
