"""Logging to a rotating file under the logs dir, with secrets scrubbed before they are written.

The redaction runs on the final formatted text, so a key that slips into an exception message or
an f-string is caught as well as one passed as an argument.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from typing import Any

from app.paths import app_paths

# 64 hex digits is the shape of a private key (and of hashes, which we lose from logs on purpose
# only when they are labelled as keys); mnemonics are runs of 12+ lowercase words.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"(?i)((?:private[_ ]?key|priv|secret|password|passphrase|mnemonic|seed|api[_-]?key"
            r"|authorization)[\"']?\s*[:=]\s*[\"']?)([^\s\"',}]+)"
        ),
        r"\1[REDACTED]",
    ),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._\-]+"), "Bearer [REDACTED]"),
    (re.compile(r"\b(?:[a-z]{3,8}\s+){11,23}[a-z]{3,8}\b"), "[REDACTED WORDS]"),
)

# A URL keeps its scheme and host only: RPC providers put API keys in the path, the query or the
# user part ("https://base-mainnet.g.alchemy.com/v2/<key>", "https://user:pass@host").
_URL = re.compile(
    r"(?i)\b([a-z][a-z0-9+.\-]*://)(?:[^\s/@'\"<>]+@)?([^\s/?#'\"<>@]+)([^\s'\"<>)\]]*)"
)
_TRAILING = ":,.;!"


def _url_head(m: re.Match[str]) -> str:
    rest = m.group(3)
    tail = rest[len(rest.rstrip(_TRAILING)):]  # sentence punctuation after the URL stays
    path = rest[: len(rest) - len(tail)]
    host = m.group(2)
    if not path and host[-1:] in _TRAILING:  # "http://host:8545:" ends in punctuation too
        stripped = host.rstrip(_TRAILING)
        host, tail = stripped, host[len(stripped):] + tail
    shown = "" if not path else "/" if path == "/" else "/\u2026"
    return f"{m.group(1)}{host}{shown}{tail}"

_secrets: set[str] = set()


def safe_url(url: str) -> str:
    """``url`` as scheme + host (+ port), for logs and messages; the rest may be a credential.

    A removed path shows as "/…", so a reader still sees that there was one.
    """
    return _URL.sub(_url_head, url)


def register_secret(value: str) -> None:
    """Scrub this exact value (a key, a password, a mnemonic) from every later log line."""
    if value and len(value) >= 6:
        _secrets.add(value)


def redact(text: str) -> str:
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, "[REDACTED]")
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return safe_url(text)


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RotatingFile(logging.FileHandler):
    """The log file, moved to ``.1`` (``.1`` to ``.2``...; ``backups`` kept) before a record
    would take it past ``max_bytes``: the rotation of ``logging.handlers.RotatingFileHandler``
    on the core handler, because importing ``logging.handlers`` loads socket, pickle and queue
    for handlers this program never uses (~8 ms of every start)."""

    def __init__(self, path: os.PathLike[str] | str, *, max_bytes: int, backups: int) -> None:
        super().__init__(path, encoding="utf-8")
        self.max_bytes = max_bytes
        self.backups = backups

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if self._would_overflow(record):
                self._rotate()
        except Exception:
            self.handleError(record)
            return
        super().emit(record)

    def _would_overflow(self, record: logging.LogRecord) -> bool:
        if self.max_bytes <= 0:
            return False
        if self.stream is None:
            self.stream = self._open()
        self.stream.seek(0, 2)  # the end, whoever else appended
        return bool(self.stream.tell() + len(self.format(record) + self.terminator)
                    >= self.max_bytes)

    def _rotate(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None  # type: ignore[assignment]
        base = self.baseFilename
        for i in range(self.backups - 1, 0, -1):
            if os.path.exists(f"{base}.{i}"):
                os.replace(f"{base}.{i}", f"{base}.{i + 1}")
        if self.backups > 0 and os.path.exists(base):
            os.replace(base, f"{base}.1")
        self.stream = self._open()


_installed: list[logging.Handler] = []
_configured_for: tuple[str, bool, bool] | None = None


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``sys.stderr`` as it is at each record: whoever swapped it (a test runner's
    capture, a GUI redirect) may close the old one, and logging must not write to a dead stream."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def setup_logging(*, verbose: bool = False, console: bool = False) -> None:
    """Once per log folder: a second call for the same folder changes nothing, one for another
    folder (``MORPHEUS_HOME`` changed) moves the log there instead of writing to the old one."""
    global _configured_for
    paths = app_paths().ensure()
    wanted = (str(paths.logs), verbose, console)
    if _configured_for == wanted:
        return
    _configured_for = wanted
    for old in _installed:
        logging.getLogger().removeHandler(old)
        old.close()
    _installed.clear()
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    fmt = RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    fh = RotatingFile(paths.logs / "morpheus.log", max_bytes=5_000_000, backups=3)
    fh.setFormatter(fmt)
    fh.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.addHandler(fh)
    _installed.append(fh)
    if console:
        ch = _StderrHandler()
        ch.setFormatter(fmt)
        ch.setLevel(logging.DEBUG if verbose else logging.WARNING)
        root.addHandler(ch)
        _installed.append(ch)
    for noisy in ("web3", "urllib3", "asyncio", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
