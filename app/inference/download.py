"""Model downloads that survive bad Wi-Fi: resume with HTTP Range into ``<name>.part``, retry with
backoff, check disk space first, and only rename to ``<name>.gguf`` after the sha256 matches —
so the library never sees (and the engine never loads) half a file."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from app.errors import UserFacingError
from app.inference.gguf_meta import read_gguf

log = logging.getLogger(__name__)
_CHUNK = 1 << 20
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_DISK_MARGIN = 64 * 1024 * 1024


class DownloadError(UserFacingError):
    """The download could not finish; the message says why and what to do."""


class DownloadNotFound(DownloadError):
    """The URL does not point to a file (404/410)."""


class NotAModelFile(DownloadError):
    """The server sent a web page (or anything that is not GGUF) instead of a model."""


class ChecksumMismatch(DownloadError):
    """The finished file is not the one the catalog promised; it is refused."""


class InsufficientDiskSpace(DownloadError):
    """Not enough free disk for the rest of the file."""


class DownloadPaused(DownloadError):
    """Raised out of ``run()`` when ``pause()`` was called; run again to resume."""


@dataclass(frozen=True)
class Progress:
    done: int
    total: int | None
    bytes_per_s: float

    @property
    def fraction(self) -> float | None:
        return self.done / self.total if self.total else None


ProgressCallback = Callable[[Progress], None]


class _Retryable(Exception):
    pass


class ModelDownload:
    """One file's download. ``await run()`` to start or resume, ``pause()`` to stop keeping the
    ``.part`` file; the next ``run()`` continues from where it stopped."""

    def __init__(
        self,
        url: str,
        dest: Path,
        *,
        sha256: str | None = None,
        expected_size: int | None = None,
        progress: ProgressCallback | None = None,
        retries: int = 5,
        backoff_s: float = 0.5,
        timeout_s: float = 60.0,
    ) -> None:
        self.url = url
        self.dest = Path(dest)
        self.part = self.dest.with_name(self.dest.name + ".part")
        self.sha256 = sha256.lower() if sha256 else None
        self.expected_size = expected_size
        self.progress = progress
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self._pause = asyncio.Event()
        self.attempts = 0

    def pause(self) -> None:
        self._pause.set()

    async def run(self, session: aiohttp.ClientSession | None = None) -> Path:
        self._pause.clear()
        if self.dest.exists():
            raise DownloadError(f"{self.dest.name} is already in your library.")
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        owns = session is None
        sess = session or aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=self.timeout_s, sock_read=self.timeout_s
            )
        )
        try:
            delay = self.backoff_s
            failures = 0
            while True:
                self.attempts += 1
                try:
                    server_sha = await self._attempt(sess)
                    break
                except _Retryable as exc:
                    failures += 1
                    if failures > self.retries:
                        raise DownloadError(
                            "The download keeps failing (connection lost). What was downloaded "
                            "is kept; try again later to continue.",
                            detail=str(exc.__cause__ or exc),
                        ) from exc
                    log.info("download retry %d after %s", failures, exc.__cause__ or exc)
                    await self._sleep_or_pause(delay)
                    delay = min(delay * 2, 30.0)
        finally:
            if owns:
                await sess.close()
        self._verify(server_sha)
        os.replace(self.part, self.dest)
        return self.dest

    async def _sleep_or_pause(self, delay: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._pause.wait(), delay)
        if self._pause.is_set():
            raise DownloadPaused("Download paused.")

    async def _attempt(self, sess: aiohttp.ClientSession) -> str | None:
        have = self.part.stat().st_size if self.part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            async with sess.get(self.url, headers=headers, allow_redirects=True) as resp:
                if resp.status == 416 and have:
                    # Range starts at/after the end: the part may already be complete.
                    return _server_sha(resp)
                if resp.status in (404, 410):
                    raise DownloadNotFound(
                        f"The server says there is no file at this link (HTTP {resp.status}). "
                        "Check the URL.",
                        detail=self.url,
                    )
                if resp.status in (401, 403):
                    raise DownloadError(
                        f"The server refused access to this file (HTTP {resp.status}). It may "
                        "need a login or accepting a license on the website.",
                        detail=self.url,
                    )
                if resp.status >= 500 or resp.status == 429:
                    raise _Retryable(f"HTTP {resp.status}")
                if resp.status not in (200, 206):
                    raise DownloadError(
                        f"The server answered with an unexpected status (HTTP {resp.status}).",
                        detail=self.url,
                    )
                ctype = resp.headers.get("Content-Type", "").lower()
                if "text/html" in ctype:
                    raise NotAModelFile(
                        "The link leads to a web page, not to a model file. Use the direct "
                        "download link of the .gguf file.",
                        detail=f"{self.url} served {ctype}",
                    )
                if resp.status == 200 and have:
                    log.info("server ignored Range; restarting %s", self.dest.name)
                    have = 0
                total = _total_size(resp, have) or self.expected_size
                if total is not None:
                    self._check_disk(total - have)
                server_sha = _server_sha(resp)
                await self._stream(resp, have, total)
                return server_sha
        except (
            aiohttp.ClientPayloadError,
            aiohttp.ClientConnectionError,
            aiohttp.ClientResponseError,
            TimeoutError,
            ConnectionError,
        ) as exc:
            raise _Retryable(str(exc)) from exc

    async def _stream(self, resp: aiohttp.ClientResponse, have: int, total: int | None) -> None:
        done = have
        t0 = time.monotonic()
        chunks = resp.content.iter_chunked(_CHUNK)
        pending = b""
        if have == 0:
            # Look at the first bytes before creating the .part file, so a web page leaves
            # nothing behind.
            while len(pending) < 4:
                try:
                    pending += await chunks.__anext__()
                except StopAsyncIteration:
                    break
            _check_head(pending, self.url)
        with self.part.open("ab" if have else "wb") as f:
            while True:
                if not pending:
                    try:
                        pending = await chunks.__anext__()
                    except StopAsyncIteration:
                        break
                f.write(pending)
                done += len(pending)
                pending = b""
                if self.progress is not None:
                    rate = (done - have) / max(time.monotonic() - t0, 1e-6)
                    self.progress(Progress(done, total, rate))
                if self._pause.is_set():
                    raise DownloadPaused("Download paused.")
        if total is not None and done < total:
            raise _Retryable(f"connection ended at {done} of {total} bytes")

    def _check_disk(self, remaining: int) -> None:
        free = shutil.disk_usage(self.dest.parent).free
        if remaining + _DISK_MARGIN > free:
            raise InsufficientDiskSpace(
                f"Not enough disk space: the model needs {remaining / 2**30:.2f} GB more, "
                f"only {free / 2**30:.2f} GB is free. Free some space or choose a smaller model."
            )

    def _verify(self, server_sha: str | None) -> None:
        want = self.sha256 or server_sha
        h = hashlib.sha256()
        with self.part.open("rb") as f:
            while block := f.read(_CHUNK):
                h.update(block)
        got = h.hexdigest()
        if want and got != want:
            self.part.unlink(missing_ok=True)
            raise ChecksumMismatch(
                "The downloaded file is not the expected one (its checksum does not match), so "
                "it was deleted. Try again; if it happens again the link may be wrong.",
                detail=f"sha256 expected {want}, got {got}",
            )
        read_gguf(self.part)


def _total_size(resp: aiohttp.ClientResponse, have: int) -> int | None:
    cr = resp.headers.get("Content-Range")
    if resp.status == 206 and cr and "/" in cr:
        tail = cr.rsplit("/", 1)[1]
        if tail.isdigit():
            return int(tail)
    cl = resp.headers.get("Content-Length")
    if cl and cl.isdigit():
        return int(cl) + (have if resp.status == 206 else 0)
    return None


def _server_sha(resp: aiohttp.ClientResponse) -> str | None:
    """Hugging Face publishes the LFS sha256 of a file as ``X-Linked-Etag``."""
    for name in ("X-Linked-Etag", "ETag"):
        v = resp.headers.get(name, "").strip().strip('"').removeprefix("W/").strip('"').lower()
        if _SHA_RE.match(v):
            return v
    return None


def _check_head(chunk: bytes, url: str) -> None:
    if chunk[:4] == b"GGUF":
        return
    head = chunk[:512].lstrip().lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head")):
        raise NotAModelFile(
            "The link leads to a web page, not to a model file. Use the direct download link of "
            "the .gguf file.",
            detail=url,
        )
    raise NotAModelFile("The file at this link is not a GGUF model.", detail=url)


async def download_model(
    url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    expected_size: int | None = None,
    progress: ProgressCallback | None = None,
    retries: int = 5,
) -> Path:
    """One-shot helper for the CLI: download, verify, return the final path."""
    return await ModelDownload(
        url, dest, sha256=sha256, expected_size=expected_size, progress=progress, retries=retries
    ).run()
