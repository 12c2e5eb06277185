"""The model library page: what is installed (import a GGUF, delete), and the catalog with its
size, needs and fit on this computer, each downloadable with pause, resume and cancel.

Downloads run on the event loop (``app.inference.downloads``); a finished file is verified
(sha256, then its GGUF header) before it appears under "Installed", so a half or wrong file is
never offered to the engine.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.errors import UserFacingError
from app.inference.downloads import DownloadManager, DownloadTask, catalog_fit
from app.inference.hardware import HardwareInfo
from app.inference.library import CatalogEntry, ModelLibrary, load_catalog
from app.services.context import AppContext
from app.ui.library.rows import CatalogRow, InstalledRow
from app.ui.ops import OpHost
from app.ui.placeholder import page_title, scroll_body

log = logging.getLogger(__name__)


class LibraryPage(QWidget):
    def __init__(
        self,
        ctx: AppContext,
        parent: QWidget | None = None,
        *,
        catalog: list[CatalogEntry] | None = None,
        hardware: HardwareInfo | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.library = ModelLibrary(ctx.paths.models)
        self.catalog = catalog if catalog is not None else load_catalog()
        self.downloads = DownloadManager(ctx.paths.models, self._on_task)
        self.confirm: Callable[[str], bool] = self._ask
        self.host = OpHost(self)  # the probe, imports and cancels (closed page: stopped)

        self.error = QLabel()
        self.error.setObjectName("libraryError")
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        self.error.hide()
        self.notice = QLabel()
        self.notice.setObjectName("libraryNotice")
        self.notice.setWordWrap(True)
        self.notice.hide()

        self.import_button = QPushButton("Import a GGUF file…")
        self.import_button.setObjectName("importModel")
        self.import_button.clicked.connect(self._pick_file)
        installed_box = QGroupBox("Installed")
        self.installed_layout = QVBoxLayout(installed_box)
        self.installed_rows: dict[str, InstalledRow] = {}
        head = QHBoxLayout()
        head.addStretch(1)
        head.addWidget(self.import_button)

        catalog_box = QGroupBox("Catalog")
        catalog_layout = QVBoxLayout(catalog_box)
        self.catalog_rows: dict[str, CatalogRow] = {}
        for entry in self.catalog:
            row = CatalogRow(entry)
            row.download_button.clicked.connect(lambda _c=False, e=entry: self.download(e))
            row.resume_button.clicked.connect(lambda _c=False, e=entry: self.download(e))
            row.pause_button.clicked.connect(lambda _c=False, e=entry: self.pause(e))
            row.cancel_button.clicked.connect(lambda _c=False, e=entry: self.cancel(e))
            self.catalog_rows[entry.name] = row
            catalog_layout.addWidget(row)

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.addWidget(page_title("Models"))
        layout.addWidget(self.error)
        layout.addWidget(self.notice)
        layout.addLayout(head)
        layout.addWidget(installed_box)
        layout.addWidget(catalog_box)
        layout.addStretch(1)
        scroll_body(self, content)

        self.refresh()
        if hardware is not None:
            self.show_fit(hardware)
        else:
            self._spawn(self._probe())

    # -- plumbing ------------------------------------------------------------------------------

    @property
    def pending(self) -> set[asyncio.Task[Any]]:
        """The page's unfinished work (tests and close handlers wait on it)."""
        return self.host.tasks

    def _spawn(self, coro: Any, *, keep_running: bool = False) -> None:
        """Through the one way pages run work; without an event loop (a bare test) nothing
        async can run and the coroutine is closed."""
        self.host.spawn(coro, keep_running=keep_running)

    async def _probe(self) -> None:
        from app.inference.hardware import probe

        try:
            hw = await asyncio.to_thread(probe)
        except Exception as exc:  # a fit estimate is a hint; never break the page over it
            log.warning("hardware probe failed: %s", exc)
            return
        self.show_fit(hw)

    def show_fit(self, hw: HardwareInfo) -> None:
        for row in self.catalog_rows.values():
            row.set_fit(catalog_fit(row.entry, hw))

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    # -- installed -----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Rebuild the installed list and each catalog row's idle state from the disk."""
        models, broken = self.library.scan()
        chosen = self._chosen(models)
        for old in self.installed_rows.values():
            old.setParent(None)
            old.deleteLater()
        self.installed_rows.clear()
        for m in models:
            installed = InstalledRow(m)
            installed.delete_button.clicked.connect(
                lambda _c=False, name=m.name: self.delete(name))
            installed.use_button.clicked.connect(lambda _c=False, name=m.name: self.choose(name))
            installed.set_chosen(m.name == chosen.name if chosen is not None else False)
            self.installed_rows[m.name] = installed
            self.installed_layout.addWidget(installed)
        if broken:
            self._show_error("Not usable: " + "; ".join(
                f"{p.name} ({exc.message})" for p, exc in broken))
        files = {m.path.name for m in models}
        for row in self.catalog_rows.values():
            task = self.downloads.tasks.get(row.entry.name)
            if task is not None and task.state.value in ("downloading", "paused"):
                continue
            part = self.downloads.dest(row.entry).with_name(row.entry.filename + ".part")
            row.set_idle(installed=row.entry.bundled or row.entry.filename in files,
                         partial=part.stat().st_size if part.exists() else 0)

    def _chosen(self, models: list[Any]) -> Any:
        """The model chat and sharing load: the one chosen here if still installed, else the
        first (as ``ModelLibrary.preferred`` picks it)."""
        name = str(getattr(self.ctx.settings, "local_model", "") or "")
        return next((m for m in models if m.name == name), models[0] if models else None)

    def choose(self, name: str) -> bool:
        """Use ``name`` for chat and sharing (saved in the settings)."""
        from app.ui.app_state import settings_store

        try:
            settings_store(self.ctx).update(local_model=name)
        except (UserFacingError, OSError) as exc:
            self._show_error(f"Could not save your choice: "
                             f"{exc.message if isinstance(exc, UserFacingError) else exc}")
            return False
        engine = self.ctx.engine
        running = engine is not None and getattr(engine, "name", name) != name
        self._show_error("")
        self.notice.setText(
            f"{name} will be used for chat and sharing"
            + (" from the next start of the program (another model is loaded now)."
               if running else ".")
        )
        self.notice.show()
        self.refresh()
        return True

    def _ask(self, text: str) -> bool:
        answer = QMessageBox.question(self, "Delete model", text)
        return answer == QMessageBox.StandardButton.Yes

    def delete(self, name: str) -> bool:
        try:
            model = self.library.get(name)
        except UserFacingError as exc:
            self._show_error(exc.message)
            return False
        engine = self.ctx.engine
        if engine is not None and Path(getattr(engine, "model_path", "")) == model.path:
            self._show_error(f"{name} is in use by the chat or by sharing. Stop them (or restart "
                             "the program with another model) before deleting it.")
            return False
        if not self.confirm(f"Delete {name} ({model.path.name}) from this computer? It can be "
                            "downloaded or imported again later."):
            return False
        try:
            self.library.remove(name)
        except (UserFacingError, OSError) as exc:
            self._show_error(f"Could not delete {name}: "
                             f"{exc.message if isinstance(exc, UserFacingError) else exc}")
            return False
        self._show_error("")
        self.refresh()
        return True

    def _pick_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a model", str(Path.home()),
                                              "GGUF models (*.gguf);;All files (*)")
        if path:
            self._spawn(self.import_file(Path(path)))

    async def import_file(self, path: Path) -> bool:
        """Copy a GGUF into the library (checked before and after the copy, off the GUI
        thread); a file that is not a model is refused with the reason."""
        self.import_button.setEnabled(False)
        try:
            await asyncio.to_thread(self.library.import_file, path)
        except UserFacingError as exc:
            self._show_error(f"{path.name} was not imported: {exc.message}")
            return False
        except OSError as exc:
            self._show_error(f"{path.name} could not be read: {exc.strerror or exc}")
            return False
        finally:
            self.import_button.setEnabled(True)
        self._show_error("")
        self.refresh()
        return True

    # -- downloads -----------------------------------------------------------------------------

    def download(self, entry: CatalogEntry) -> DownloadTask | None:
        try:
            task = self.downloads.start(entry)
        except (UserFacingError, RuntimeError) as exc:
            self._show_error(exc.message if isinstance(exc, UserFacingError) else str(exc))
            return None
        self._show_error("")
        return task

    def pause(self, entry: CatalogEntry) -> None:
        self.downloads.pause(entry.name)

    def cancel(self, entry: CatalogEntry) -> None:
        self._spawn(self._cancel(entry), keep_running=True)  # half-removed files help no one

    async def _cancel(self, entry: CatalogEntry) -> None:
        await self.downloads.cancel(entry.name)
        self.refresh()

    def _on_task(self, task: DownloadTask) -> None:
        row = self.catalog_rows.get(task.entry.name)
        if row is None:
            return
        try:
            row.show_task(task)
            if task.state.value == "done":
                self.refresh()
        except RuntimeError:  # the page is gone (window closed) while a download ran
            pass
