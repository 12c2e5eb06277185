"""The Models page: the catalog with size, needs and fit; a download from a real local HTTP
server that pauses, resumes and lands verified in "Installed"; a sha256 mismatch or a web page
refused with nothing left behind; cancel; import of a GGUF (and refusal of a file that is not
one); delete."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest_asyncio

from app.inference.downloads import DownloadState
from app.inference.hardware import HardwareInfo
from app.inference.library import BUNDLED_NAME, CatalogEntry
from app.ui.library import LibraryPage
from tests.inference.conftest import make_gguf
from tests.inference.test_download import FileServer

HW = HardwareInfo("test CPU", 4, 8, 8, ram_total=16 * 2**30, ram_available=8 * 2**30)


async def until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@pytest_asyncio.fixture
async def server(tmp_path: Path) -> AsyncIterator[FileServer]:
    s = FileServer(make_gguf(tmp_path / "src.gguf", n_floats=1024 * 1024).read_bytes())
    await s.start()
    yield s
    await s.stop()


def entry(server: FileServer, name: str = "Tiny", *, path: str = "/model.gguf",
          sha256: str | None = None, size: int | None = None) -> CatalogEntry:
    return CatalogEntry(
        name=name, url=server.url + path, filename=f"{name.lower()}.gguf",
        size=size if size is not None else len(server.data),
        sha256=sha256 if sha256 is not None else hashlib.sha256(server.data).hexdigest(),
        ram_needed=64 * 2**20, vram_needed=32 * 2**20, params="1M", quant="F32",
        description="A test model.",
    )


def page_for(window, *entries: CatalogEntry) -> LibraryPage:
    page = LibraryPage(window.ctx, catalog=list(entries), hardware=HW)
    page.show()
    return page


def pause_at_first_progress(page: LibraryPage, name: str) -> None:
    """Click Pause as soon as the first bytes arrive (the button a user would press)."""
    original = page.downloads.on_change

    def hook(task):
        original(task)
        if task.progress is not None and task.state is DownloadState.DOWNLOADING:
            page.downloads.on_change = original
            page.catalog_rows[name].pause_button.click()

    page.downloads.on_change = hook


async def test_models_page_opens_in_the_window_with_the_catalog(make_window) -> None:
    window = make_window()
    window.show()
    page = window.show_page("models")
    assert isinstance(page, LibraryPage)
    assert BUNDLED_NAME in page.installed_rows
    assert not page.installed_rows[BUNDLED_NAME].delete_button.isEnabled()
    bundled = page.catalog_rows[BUNDLED_NAME]
    assert bundled.status.text() == "Installed (ships with the program)"
    other = next(r for r in page.catalog_rows.values() if not r.entry.bundled)
    assert "not verified by the catalog" in other.details.text()
    assert "GB download" in other.details.text() and "of memory" in other.details.text()


async def test_download_pauses_resumes_and_lands_verified(make_window, server, paths) -> None:
    window = make_window()
    e = entry(server)
    huge = CatalogEntry("Huge", server.url + "/huge", "huge.gguf", 200 * 2**30, None,
                        210 * 2**30, 200 * 2**30, "400B", "Q4")
    page = page_for(window, e, huge)
    row = page.catalog_rows["Tiny"]
    assert row.fit.text().startswith("Fits this computer (on the CPU)")
    assert page.catalog_rows["Huge"].fit.text().startswith("Too big for this computer")
    assert "publisher's sha256" in row.details.text()

    pause_at_first_progress(page, "Tiny")
    row.download_button.click()
    await until(lambda: page.downloads.tasks["Tiny"].state is DownloadState.PAUSED)
    part = paths.models / "tiny.gguf.part"
    kept = part.stat().st_size
    assert 0 < kept < len(server.data)
    assert row.status.text().startswith("Paused at ")
    assert row.resume_button.isVisible() and not row.pause_button.isVisible()
    assert "tiny" not in page.installed_rows  # half a file is never offered

    row.resume_button.click()
    await until(lambda: page.downloads.tasks["Tiny"].state is DownloadState.DONE)
    assert (paths.models / "tiny.gguf").read_bytes() == server.data
    assert not part.exists()
    assert server.ranges == [None, f"bytes={kept}-"]  # resumed, not restarted
    assert "tiny" in page.installed_rows
    assert row.status.text() == "Installed"


async def test_checksum_mismatch_and_web_page_are_refused(make_window, server, paths) -> None:
    window = make_window()
    bad = entry(server, "Wrong", sha256="0" * 64)
    html = entry(server, "Html", path="/page")
    page = page_for(window, bad, html)
    page.catalog_rows["Wrong"].download_button.click()
    page.catalog_rows["Html"].download_button.click()
    await until(lambda: all(t.state is DownloadState.FAILED
                            for t in page.downloads.tasks.values()) and
                len(page.downloads.tasks) == 2)
    wrong = page.catalog_rows["Wrong"]
    assert "checksum does not match" in wrong.status.text()
    assert wrong.download_button.isVisible()  # may try again
    assert "web page, not to a model file" in page.catalog_rows["Html"].status.text()
    assert sorted(p.name for p in paths.models.iterdir()) == []  # nothing left behind
    assert set(page.installed_rows) == {BUNDLED_NAME}


class StallingServer(FileServer):
    """Sends the headers and the first kilobyte of /stall, then nothing (a dead connection that
    stays open)."""

    async def _respond(self, path, rng, w):
        if path != "/stall":
            return await super()._respond(path, rng, w)
        self.ranges.append(rng)
        w.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(self.data))
        w.write(self.data[:1024])
        await w.drain()
        await asyncio.sleep(30)


async def test_a_stalled_download_is_retried_then_reported(make_window, paths, tmp_path) -> None:
    server = StallingServer(make_gguf(tmp_path / "s.gguf").read_bytes())
    await server.start()
    try:
        window = make_window()
        page = page_for(window, entry(server, "Stuck", path="/stall"))
        from app.inference.downloads import DownloadManager

        page.downloads = DownloadManager(paths.models, page._on_task, timeout_s=0.3, retries=1)
        page.catalog_rows["Stuck"].download_button.click()
        await until(lambda: page.downloads.tasks["Stuck"].state is DownloadState.FAILED)
        row = page.catalog_rows["Stuck"]
        assert "keeps failing" in row.status.text()
        assert len(server.ranges) == 2  # tried again (resuming) before giving up
        assert row.download_button.isVisible()
        assert not (paths.models / "stuck.gguf").exists()
    finally:
        await server.stop()


async def test_cancel_deletes_the_partial_file(make_window, server, paths) -> None:
    window = make_window()
    page = page_for(window, entry(server))
    row = page.catalog_rows["Tiny"]
    pause_at_first_progress(page, "Tiny")
    row.download_button.click()
    await until(lambda: page.downloads.tasks["Tiny"].state is DownloadState.PAUSED)
    assert (paths.models / "tiny.gguf.part").exists()
    row.cancel_button.click()
    await until(lambda: page.downloads.tasks["Tiny"].state is DownloadState.CANCELLED
                and not (paths.models / "tiny.gguf.part").exists())
    await until(lambda: row.download_button.isVisible())
    assert not (paths.models / "tiny.gguf").exists()


async def test_import_refuses_a_non_model_then_imports_and_deletes(
    make_window, paths, tmp_path: Path
) -> None:
    window = make_window()
    page = page_for(window)
    junk = tmp_path / "notes.gguf"
    junk.write_text("these are not weights")
    assert not await page.import_file(junk)
    assert page.error.isVisible() and "notes.gguf was not imported" in page.error.text()
    assert set(page.installed_rows) == {BUNDLED_NAME}

    model = make_gguf(tmp_path / "mine.gguf")
    assert await page.import_file(model)
    assert not page.error.isVisible()
    assert "mine" in page.installed_rows and (paths.models / "mine.gguf").exists()
    assert model.exists()  # imported as a copy

    # Chosen for chat and sharing: saved, and what the program's services load from now on.
    from app.services.app_services import services_of

    assert page.installed_rows[BUNDLED_NAME].use_button.text() == "Used for chat and sharing"
    page.installed_rows["mine"].use_button.click()
    assert window.ctx.settings.local_model == "mine"
    assert "mine will be used for chat and sharing" in page.notice.text()
    assert not page.installed_rows["mine"].use_button.isEnabled()
    assert page.installed_rows[BUNDLED_NAME].use_button.isEnabled()
    assert page.library.preferred(services_of(window.ctx).chosen_model_name()).name == "mine"

    page.confirm = lambda _text: False
    assert not page.delete("mine")
    assert (paths.models / "mine.gguf").exists()
    page.confirm = lambda _text: True
    assert page.delete("mine")
    assert not (paths.models / "mine.gguf").exists() and "mine" not in page.installed_rows
    # The chosen model is gone: the default is used again, nothing breaks.
    assert page.library.preferred("mine").name == BUNDLED_NAME
    assert page.installed_rows[BUNDLED_NAME].use_button.text() == "Used for chat and sharing"
