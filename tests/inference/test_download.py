"""Downloads against a real local HTTP server that honours Range and can cut connections."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio

from app.inference.download import (
    ChecksumMismatch,
    DownloadNotFound,
    DownloadPaused,
    InsufficientDiskSpace,
    ModelDownload,
    NotAModelFile,
    Progress,
)
from app.inference.gguf_meta import read_gguf
from app.inference.library import ModelLibrary
from tests.inference.conftest import make_gguf


@dataclass
class FileServer:
    """Minimal HTTP/1.1 server: /model.gguf with Range support; ``cut_after`` makes the next
    response stop mid-body by closing the socket; also /missing (404), /page (HTML) and /huge."""

    data: bytes
    port: int = 0
    cut_after: list[int] = field(default_factory=list)  # one entry per response to cut
    ranges: list[str | None] = field(default_factory=list)
    server: asyncio.base_events.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            path = lines[0].split()[1]
            headers = {
                k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:] if h)
            }
            await self._respond(path, headers.get("range"), writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _respond(self, path: str, rng: str | None, w: asyncio.StreamWriter) -> None:
        if path == "/missing":
            w.write(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found"
            )
            return
        if path == "/page":
            body = b"<!DOCTYPE html><html><body>Download our model!</body></html>"
            w.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body
            )
            return
        if path == "/huge":
            w.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (1 << 60)
            )
            w.write(self.data[:1024])
            return
        self.ranges.append(rng)
        start = 0
        if rng:
            start = int(rng.removeprefix("bytes=").split("-")[0])
        total = len(self.data)
        if start >= total:
            w.write(
                b"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */%d\r\n"
                b"Content-Length: 0\r\nConnection: close\r\n\r\n" % total
            )
            return
        body = self.data[start:]
        if rng:
            status = b"206 Partial Content"
            extra = b"Content-Range: bytes %d-%d/%d\r\n" % (start, total - 1, total)
        else:
            status, extra = b"200 OK", b""
        w.write(
            b"HTTP/1.1 "
            + status
            + b"\r\nContent-Type: application/octet-stream\r\n"
            + extra
            + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
        )
        if self.cut_after:
            n = self.cut_after.pop(0)
            w.write(body[:n])
            await w.drain()
            w.transport.abort()  # the connection drops mid-file
            return
        w.write(body)
        await w.drain()


@pytest.fixture(scope="module")
def payload(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return make_gguf(tmp_path_factory.mktemp("dl") / "m.gguf", n_floats=1024 * 1024).read_bytes()


@pytest_asyncio.fixture
async def server(payload: bytes) -> AsyncIterator[FileServer]:
    s = FileServer(payload)
    await s.start()
    yield s
    await s.stop()


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


async def test_resumes_after_connection_cut(
    server: FileServer, tmp_path: Path, payload: bytes
) -> None:
    server.cut_after = [len(payload) // 3, len(payload) // 3]  # two drops, then it works
    seen: list[Progress] = []
    dl = ModelDownload(
        f"{server.url}/model.gguf",
        tmp_path / "m.gguf",
        sha256=sha(payload),
        progress=seen.append,
        backoff_s=0.01,
    )
    path = await dl.run()
    assert path.read_bytes() == payload
    assert not (tmp_path / "m.gguf.part").exists()
    assert dl.attempts == 3
    # the retries asked only for the missing bytes
    assert server.ranges[0] is None
    assert server.ranges[1] == f"bytes={len(payload) // 3}-"
    assert server.ranges[2] == f"bytes={2 * (len(payload) // 3)}-"
    assert seen[-1].done == len(payload) and seen[-1].total == len(payload)
    assert read_gguf(path).parameters == 1024 * 1024
    assert [m.name for m in ModelLibrary(tmp_path, include_bundled=False).models()] == ["m"]


async def test_pause_keeps_part_and_resume_finishes(
    server: FileServer, tmp_path: Path, payload: bytes
) -> None:
    dl: ModelDownload

    def pause_at_first_progress(p: Progress) -> None:
        dl.pause()

    dl = ModelDownload(
        f"{server.url}/model.gguf",
        tmp_path / "m.gguf",
        sha256=sha(payload),
        progress=pause_at_first_progress,
    )
    with pytest.raises(DownloadPaused):
        await dl.run()
    part = tmp_path / "m.gguf.part"
    kept = part.stat().st_size
    assert 0 < kept < len(payload)
    assert not (tmp_path / "m.gguf").exists()
    # a half file is never offered as a model
    assert ModelLibrary(tmp_path, include_bundled=False).models() == []
    dl.progress = None
    await dl.run()
    assert (tmp_path / "m.gguf").read_bytes() == payload
    assert server.ranges == [None, f"bytes={kept}-"]


async def test_checksum_mismatch_is_refused(server: FileServer, tmp_path: Path) -> None:
    dl = ModelDownload(f"{server.url}/model.gguf", tmp_path / "m.gguf", sha256="0" * 64)
    with pytest.raises(ChecksumMismatch) as err:
        await dl.run()
    assert "checksum" in err.value.message
    assert list(tmp_path.iterdir()) == []  # neither the model nor the part file


async def test_404_gives_a_clear_error(server: FileServer, tmp_path: Path) -> None:
    with pytest.raises(DownloadNotFound) as err:
        await ModelDownload(f"{server.url}/missing", tmp_path / "m.gguf").run()
    assert "404" in err.value.message
    assert list(tmp_path.iterdir()) == []


async def test_html_page_is_not_a_model(server: FileServer, tmp_path: Path) -> None:
    with pytest.raises(NotAModelFile) as err:
        await ModelDownload(f"{server.url}/page", tmp_path / "m.gguf").run()
    assert "web page" in err.value.message
    assert list(tmp_path.iterdir()) == []


async def test_disk_space_checked_before_downloading(server: FileServer, tmp_path: Path) -> None:
    with pytest.raises(InsufficientDiskSpace) as err:
        await ModelDownload(f"{server.url}/huge", tmp_path / "m.gguf").run()
    assert "disk space" in err.value.message
    assert list(tmp_path.iterdir()) == []


async def test_unreachable_server_gives_up_with_message(tmp_path: Path) -> None:
    srv = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    srv.close()
    await srv.wait_closed()
    dl = ModelDownload(
        f"http://127.0.0.1:{port}/m.gguf", tmp_path / "m.gguf", retries=2, backoff_s=0.01
    )
    with pytest.raises(Exception) as err:
        await dl.run()
    assert "keeps failing" in str(err.value)
    assert dl.attempts == 3
