"""Catalog downloads as the library page runs them: one task per catalog entry that can be
paused, resumed and cancelled, with the state and progress a page shows. No Qt.

Why apart from ``download.py``: that module is one file's transfer (resume, retry, checksum);
this is the user's view of several of them, which the CLI does not need.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from app.errors import UserFacingError
from app.inference.download import DownloadPaused, ModelDownload, Progress
from app.inference.hardware import FitEstimate, HardwareInfo, estimate_fit
from app.inference.library import CatalogEntry

log = logging.getLogger(__name__)


class DownloadState(StrEnum):
    DOWNLOADING = "downloading"
    PAUSED = "paused"
    FAILED = "failed"
    DONE = "done"
    CANCELLED = "cancelled"


@dataclass
class DownloadTask:
    entry: CatalogEntry
    download: ModelDownload
    state: DownloadState = DownloadState.DOWNLOADING
    progress: Progress | None = None
    error: str = ""
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        """One line for the page: "41% · 12.3 MB/s", "Paused at 41%", the error…"""
        p = self.progress
        pct = f"{p.fraction * 100:.0f}%" if p is not None and p.fraction is not None else ""
        if self.state is DownloadState.DOWNLOADING:
            speed = f" · {p.bytes_per_s / 1e6:.1f} MB/s" if p is not None else ""
            return f"Downloading {pct}{speed}".strip() if pct else "Starting the download…"
        if self.state is DownloadState.PAUSED:
            return f"Paused at {pct}" if pct else "Paused"
        if self.state is DownloadState.DONE:
            return "Downloaded and verified"
        if self.state is DownloadState.CANCELLED:
            return "Cancelled"
        return self.error


def catalog_fit(entry: CatalogEntry, hw: HardwareInfo) -> FitEstimate:
    """Whether the entry runs here: its weights plus the cache the catalog counts, vs free
    VRAM first, then RAM."""
    return estimate_fit(entry.size, max(0, entry.ram_needed - entry.size), hw)


def verification(entry: CatalogEntry) -> str:
    if entry.sha256:
        return "checked against the publisher's sha256"
    return "not verified by the catalog (checked against the server's sha256 when it sends one)"


class DownloadManager:
    """``start(entry)`` (also resumes), ``pause(name)``, ``cancel(name)``; ``on_change(task)``
    is called on every progress step and state change, on the event loop."""

    def __init__(
        self, models_dir: Path, on_change: Callable[[DownloadTask], None], *,
        timeout_s: float = 60.0, retries: int = 5,
    ) -> None:
        """``timeout_s``: a connection silent this long counts as stalled and is retried
        (``retries`` times, resuming each time) before the download fails."""
        self.dir = Path(models_dir)
        self.on_change = on_change
        self.timeout_s = timeout_s
        self.retries = retries
        self.tasks: dict[str, DownloadTask] = {}

    def dest(self, entry: CatalogEntry) -> Path:
        return self.dir / entry.filename

    def start(self, entry: CatalogEntry) -> DownloadTask:
        if not entry.url:
            raise UserFacingError(f"{entry.name} ships with the program; there is nothing to "
                                  "download.")
        task = self.tasks.get(entry.name)
        if task is not None and task.state is DownloadState.DOWNLOADING:
            return task
        if task is None or task.state in (DownloadState.FAILED, DownloadState.CANCELLED,
                                          DownloadState.DONE):
            dl = ModelDownload(entry.url, self.dest(entry), sha256=entry.sha256,
                               expected_size=entry.size or None, timeout_s=self.timeout_s,
                               retries=self.retries, backoff_s=min(0.5, self.timeout_s))
            task = DownloadTask(entry, dl)
            self.tasks[entry.name] = task
        task.state = DownloadState.DOWNLOADING
        task.error = ""

        def progress(p: Progress) -> None:
            task.progress = p
            self.on_change(task)

        task.download.progress = progress
        task.task = asyncio.ensure_future(self._run(task))
        self.on_change(task)
        return task

    async def _run(self, task: DownloadTask) -> None:
        try:
            await task.download.run()
        except DownloadPaused:
            if task.state is not DownloadState.CANCELLED:
                task.state = DownloadState.PAUSED
        except UserFacingError as exc:
            task.state = DownloadState.FAILED
            task.error = exc.message
            log.warning("download of %s failed: %s", task.entry.name, exc.detail or exc.message)
        except asyncio.CancelledError:
            task.state = DownloadState.CANCELLED
            raise
        else:
            task.state = DownloadState.DONE
        finally:
            if task.state is DownloadState.CANCELLED:
                task.download.part.unlink(missing_ok=True)
            self.on_change(task)

    def pause(self, name: str) -> None:
        task = self.tasks.get(name)
        if task is not None and task.state is DownloadState.DOWNLOADING:
            task.download.pause()

    async def cancel(self, name: str) -> None:
        """Stop and delete what was downloaded so far."""
        task = self.tasks.get(name)
        if task is None:
            return
        running = task.task is not None and not task.task.done()
        task.state = DownloadState.CANCELLED
        if running:
            assert task.task is not None
            task.download.pause()
            with contextlib.suppress(asyncio.CancelledError):
                await task.task
        task.download.part.unlink(missing_ok=True)
        self.on_change(task)

    async def wait(self, name: str) -> DownloadTask:
        task = self.tasks[name]
        if task.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task.task)
        return task

    async def stop(self) -> None:
        """Pause every running download (its ``.part`` stays, to resume next time)."""
        for task in self.tasks.values():
            if task.state is DownloadState.DOWNLOADING:
                task.download.pause()
        for task in self.tasks.values():
            if task.task is not None and not task.task.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await task.task
