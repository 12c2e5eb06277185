"""Reading back-to-back JSON values from a TCP stream (§5.1: no length prefix, no newline).

Each value is found with ``json.JSONDecoder.raw_decode`` on a growing buffer. The buffer is bounded
(a peer cannot make us hold more than one message's worth), and two clocks guard the read: a total
deadline per value and an idle gap between bytes, so a slow or silent peer is dropped.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from app.p2p.errors import MessageTooLarge, PeerTimeout, ProtocolError

DEFAULT_MAX_MESSAGE_BYTES = 1 << 20
_WHITESPACE = b" \t\r\n"
_DECODER = json.JSONDecoder()
_READ_CHUNK = 64 * 1024


class _Incomplete(Exception):
    pass


_PARTIAL_TAIL = re.compile(
    r"\s*(-|[.eE][+-]?|\\?u[0-9a-fA-F]{0,3}|t|tr|tru|f|fa|fal|fals|n|nu|nul)?"
)


def _could_continue(tail: str) -> bool:
    """Whether the text where decoding stopped is only the unfinished start of a token."""
    return _PARTIAL_TAIL.fullmatch(tail) is not None


def _try_decode(buffer: bytes, *, final: bool) -> tuple[Any, int]:
    """Decode one value at the start of ``buffer``; return it and the bytes it used.

    Raises ``_Incomplete`` if more bytes could still complete it, ``ProtocolError`` if not.
    """
    text = buffer.decode("utf-8", "surrogateescape")
    try:
        value, end = _DECODER.raw_decode(text)
    except json.JSONDecodeError as exc:
        if exc.msg.startswith("Unterminated string") or _could_continue(text[exc.pos :]):
            raise _Incomplete from exc
        raise ProtocolError(f"invalid JSON: {exc.msg}") from exc
    except RecursionError as exc:
        raise ProtocolError("JSON nested too deeply") from exc
    # A bare number at the end of the buffer may still be growing ("12" then "3").
    if end == len(text) and not final and not text.endswith(("}", "]", '"', "e", "l")):
        raise _Incomplete
    used = end if len(text) == len(buffer) else len(text[:end].encode("utf-8", "surrogateescape"))
    return value, used


class JsonStreamReader:
    """Yields one decoded JSON value per ``read_value`` call from an ``asyncio.StreamReader``."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        *,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        read_timeout: float | None = 30.0,
        idle_timeout: float | None = 10.0,
    ) -> None:
        self._reader = reader
        self._buffer = b""
        self._eof = False
        self.max_message_bytes = max_message_bytes
        self.read_timeout = read_timeout
        self.idle_timeout = idle_timeout

    async def read_value(self, *, read_timeout: float | None = -1.0) -> Any:
        """The next value; ``EOFError`` at a clean end of stream before any byte of a value.

        ``read_timeout`` overrides the reader's total deadline for this one value.
        """
        total = self.read_timeout if read_timeout == -1.0 else read_timeout
        deadline = None if total is None else time.monotonic() + total
        while True:
            self._buffer = self._buffer.lstrip(_WHITESPACE)
            if self._buffer:
                try:
                    value, used = _try_decode(self._buffer, final=self._eof)
                except _Incomplete:
                    if self._eof:
                        raise ProtocolError("truncated JSON message") from None
                else:
                    if used > self.max_message_bytes:
                        raise MessageTooLarge(f"message exceeds {self.max_message_bytes} bytes")
                    self._buffer = self._buffer[used:]
                    return value
                if len(self._buffer) > self.max_message_bytes:
                    raise MessageTooLarge(f"message exceeds {self.max_message_bytes} bytes")
            elif self._eof:
                raise EOFError
            await self._fill(deadline)

    async def _fill(self, deadline: float | None) -> None:
        wait = self.idle_timeout
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PeerTimeout("peer too slow to send a whole message")
            wait = remaining if wait is None else min(wait, remaining)
        try:
            async with asyncio.timeout(wait):
                chunk = await self._reader.read(_READ_CHUNK)
        except TimeoutError:
            raise PeerTimeout("peer went silent") from None
        if not chunk:
            self._eof = True
            return
        self._buffer += chunk
        if len(self._buffer) > self.max_message_bytes + _READ_CHUNK:
            raise MessageTooLarge(f"message exceeds {self.max_message_bytes} bytes")
