"""Reading back-to-back JSON values from a TCP stream (§5.1: no length prefix, no newline).

A ``FrameScanner`` finds where one value ends with its own small state machine (nesting depth,
inside-a-string, pending escape), resuming where it stopped when more bytes arrive, so every byte
is looked at once however the peer splits its message. It refuses nesting deeper than
``MAX_DEPTH`` before anything recursive runs: the interpreter's recursion limit is no defence
(py_ecc raises it to 100 000 at import, and the C stack overflows long before that).
Only a complete, shallow frame reaches ``json.loads``. Size and two clocks (a total deadline per
value and an idle gap between bytes) bound the rest.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

# The bound on untrusted JSON is a base module's (the chain and inference layers use it too).
from app.jsonsafe import MAX_DEPTH as MAX_DEPTH
from app.jsonsafe import loads_bounded as loads_bounded
from app.jsonsafe import max_depth_of as max_depth_of
from app.p2p.errors import MessageTooLarge, NestingTooDeep, PeerTimeout, ProtocolError
from app.p2p.gofields import loads_go

DEFAULT_MAX_MESSAGE_BYTES = 1 << 20
# Brackets and strings per frame. A MOR-RPC envelope has a few dozen whatever its size (a prompt's
# own JSON travels inside one string, skipped at C speed); the cap bounds the Python work one
# frame can cost (a frame of "[1],[1],..." would otherwise cost about a microsecond a byte).
MAX_TOKENS = 100_000
_WHITESPACE = b" \t\r\n"
_READ_CHUNK = 64 * 1024
_STRUCTURAL = re.compile(rb'[\[\]{}"]')
# a string's body up to its closing quote, escape pairs included, in one C-level match
_STRING_BODY = re.compile(rb'[^"\\]*+(?:\\.[^"\\]*+)*+', re.DOTALL)
_SCALAR_END = re.compile(rb"[^0-9A-Za-z.+\-]")
_SCALAR_START = b"-0123456789tfn"
_OPEN = frozenset(b"[{")


class FrameScanner:
    """Finds the end of one JSON value in a growing buffer without re-reading scanned bytes.

    ``scan(buf, final)`` returns the index just past the value, or ``None`` while it is unfinished.
    The syntax inside the value is left to ``json.loads``; the scanner only needs brackets,
    strings and escapes, which is also all an attacker can use to make parsing expensive.
    """

    __slots__ = (
        "_escape",
        "_in_string",
        "_kind",
        "depth",
        "escapes",
        "max_depth",
        "max_tokens",
        "pos",
        "start",
        "tokens",
    )

    def __init__(self, max_depth: int = MAX_DEPTH, max_tokens: int = MAX_TOKENS) -> None:
        self.max_depth = max_depth
        self.max_tokens = max_tokens
        self.reset()

    def reset(self) -> None:
        self.pos = 0  # next byte to examine
        self.start = -1  # index of the value's first byte, -1 before it
        self.depth = 0
        self.escapes = False  # some string of this value had a backslash escape
        self.tokens = 0  # brackets and strings seen: each costs Python work, so they are capped
        self._kind = 0  # 0 none yet, 1 container, 2 top-level string, 3 top-level scalar
        self._in_string = False
        self._escape = False

    def scan(self, buf: bytes | bytearray, final: bool = False) -> int | None:
        n = len(buf)
        pos = self.pos
        if self._kind == 0:
            while pos < n and buf[pos] in _WHITESPACE:
                pos += 1
            if pos == n:
                self.pos = pos
                return None
            first = buf[pos]
            self.start = pos
            if first in _OPEN:
                self._kind, self.depth = 1, 1
            elif first == 0x22:
                self._kind, self._in_string = 2, True
            elif first in _SCALAR_START:
                self._kind = 3
            else:
                raise ProtocolError("invalid JSON: no value starts here")
            pos += 1
        if self._kind == 3:
            m = _SCALAR_END.search(buf, pos)
            if m is None:
                self.pos = n
                return n if final else None
            return m.start()
        depth = self.depth
        max_depth = self.max_depth
        while True:
            if self._in_string:
                if self._escape:
                    if pos >= n:
                        break
                    pos += 1
                    self._escape = False
                end = _STRING_BODY.match(buf, pos).end()  # type: ignore[union-attr]
                if not self.escapes and buf.find(b"\\", pos, end) >= 0:
                    self.escapes = True
                pos = end
                if pos >= n:
                    break
                pos += 1
                if buf[pos - 1] == 0x5C:  # a final backslash: its escaped byte is yet to come
                    self.escapes = True
                    self._escape = True
                    continue
                self._in_string = False
                if self._kind == 2:
                    self.pos = pos
                    return pos
                continue
            m = _STRUCTURAL.search(buf, pos)
            if m is None:
                pos = n
                break
            pos = m.end()
            self.tokens += 1
            if self.tokens > self.max_tokens:
                raise MessageTooLarge(f"message has more than {self.max_tokens} JSON tokens")
            c = buf[pos - 1]
            if c == 0x22:
                self._in_string = True
            elif c in _OPEN:
                depth += 1
                if depth > max_depth:
                    raise NestingTooDeep(f"JSON nested deeper than {max_depth} levels")
            else:
                depth -= 1
                if depth == 0:
                    self.depth = 0
                    self.pos = pos
                    return pos
        self.depth = depth
        self.pos = pos
        return None


def decode_frame(frame: bytes | bytearray, *, escapes: bool = True) -> Any:
    """A complete, depth-checked frame → Python value, with Go's decoding rules (see gojson)."""
    return loads_go(bytes(frame), escapes=escapes)


class JsonStreamReader:
    """Yields one decoded JSON value per ``read_value`` call from an ``asyncio.StreamReader``."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        *,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        read_timeout: float | None = 30.0,
        idle_timeout: float | None = 10.0,
        max_depth: int = MAX_DEPTH,
    ) -> None:
        self._reader = reader
        self._buffer = bytearray()
        self._eof = False
        self._scanner = FrameScanner(max_depth)
        self.max_message_bytes = max_message_bytes
        self.read_timeout = read_timeout
        self.idle_timeout = idle_timeout
        self.bytes_read = 0
        # One timer for many reads: a streamed answer reads once per token, and arming and
        # cancelling a timer (``asyncio.timeout``) for each costs more than the token's crypto.
        self._wait_until: float | None = None
        self._timer: asyncio.Handle | None = None  # qasync's loop returns a plain Handle
        self._timer_at = 0.0

    async def read_value(self, *, read_timeout: float | None = -1.0) -> Any:
        """The next value; ``EOFError`` at a clean end of stream before any byte of a value.

        ``read_timeout`` overrides the reader's total deadline for this one value.
        """
        raw, escapes = await self.read_frame(read_timeout=read_timeout)
        return decode_frame(raw, escapes=escapes)

    async def read_frame(self, *, read_timeout: float | None = -1.0) -> tuple[bytes, bool]:
        """The next value's bytes (not decoded) and whether any of its strings had escapes."""
        frame, escapes, _ = await self.read_frame_or_match(None, read_timeout=read_timeout)
        return frame, escapes

    async def read_frame_or_match(
        self, fast: re.Pattern[bytes] | None, *, read_timeout: float | None = -1.0
    ) -> tuple[bytes, bool, tuple[bytes, ...] | None]:
        """Like ``read_frame``, but first tries ``fast`` (a pattern for the usual, flat shape of
        a frame, e.g. a streamed chunk) at the start of the value: a match is the frame, with no
        scanning, and its groups are returned so the caller can skip generic decoding too."""
        total = self.read_timeout if read_timeout == -1.0 else read_timeout
        deadline = None if total is None else time.monotonic() + total
        scanner = self._scanner
        while True:
            if fast is not None and scanner.start < 0:
                pos = scanner.pos
                buf = self._buffer
                while pos < len(buf) and buf[pos] in _WHITESPACE:
                    pos += 1
                if pos == len(buf) and not self._eof:
                    await self._fill(deadline)  # nothing to try the pattern on yet
                    continue
                match = fast.match(buf, pos)
                if match is not None:
                    groups = tuple(bytes(g) for g in match.groups())  # before buf changes
                    frame = bytes(buf[pos : match.end()])
                    del buf[: match.end()]
                    scanner.reset()
                    return frame, False, groups
                fast = None  # one try per value; the scanner takes it from here
            end = scanner.scan(self._buffer, final=self._eof)
            if end is not None:
                if end - scanner.start > self.max_message_bytes:
                    raise MessageTooLarge(f"message exceeds {self.max_message_bytes} bytes")
                frame = bytes(self._buffer[scanner.start : end])
                escapes = scanner.escapes
                del self._buffer[:end]
                scanner.reset()
                return frame, escapes, None
            if scanner.start >= 0 and len(self._buffer) - scanner.start > self.max_message_bytes:
                raise MessageTooLarge(f"message exceeds {self.max_message_bytes} bytes")
            if self._eof:
                if scanner.start >= 0:
                    raise ProtocolError("truncated JSON message")
                raise EOFError
            if scanner.start < 0 and scanner.pos:
                del self._buffer[: scanner.pos]  # leading whitespace
                scanner.pos = 0
            await self._fill(deadline)

    async def _fill(self, deadline: float | None) -> None:
        wait = self.idle_timeout
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PeerTimeout("peer too slow to send a whole message")
            wait = remaining if wait is None else min(wait, remaining)
        if wait is None:
            chunk = await self._reader.read(_READ_CHUNK)
        else:
            loop = asyncio.get_running_loop()
            self._wait_until = until = loop.time() + wait
            if self._timer is None or self._timer_at > until:
                if self._timer is not None:
                    self._timer.cancel()
                self._timer, self._timer_at = loop.call_at(until, self._expire), until
            try:
                chunk = await self._reader.read(_READ_CHUNK)
            finally:
                self._wait_until = None
        if not chunk:
            self._eof = True
            return
        self.bytes_read += len(chunk)
        self._buffer += chunk

    def _expire(self) -> None:
        """The shared timer fired: fail the read still waiting past its time, else re-arm for it
        (the reads since it was armed wait until later)."""
        self._timer = None
        until = self._wait_until
        if until is None:
            return  # nobody is waiting; the next read arms its own
        loop = asyncio.get_running_loop()
        if loop.time() >= until:
            # the waiting ``read`` raises this; the connection is over either way
            self._reader.set_exception(PeerTimeout("peer went silent"))
        else:
            self._timer, self._timer_at = loop.call_at(until, self._expire), until

    def close(self) -> None:
        """Drops the pending timer (it would only find nobody waiting)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
