"""One row per catalog entry and per installed model (labels, progress bar, buttons)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.inference.downloads import DownloadState, DownloadTask, verification
from app.inference.hardware import FitEstimate, gib
from app.inference.library import CatalogEntry, LocalModel


def _muted(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setProperty("role", "muted")
    label.setWordWrap(True)
    return label


class CatalogRow(QFrame):
    def __init__(self, entry: CatalogEntry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.entry = entry
        self.setObjectName(f"catalog_{entry.name}")
        self.title = QLabel(f"<b>{entry.name}</b> · {entry.params} · {entry.quant}")
        self.details = _muted(
            f"{gib(entry.size)} download · needs about {gib(entry.ram_needed)} of memory · "
            f"{verification(entry)}"
        )
        self.description = _muted(entry.description)
        self.fit = _muted("Checking this computer…")
        self.fit.setObjectName("fit")
        self.status = _muted()
        self.status.setObjectName("status")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.hide()
        self.download_button = QPushButton("Download")
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.cancel_button = QPushButton("Cancel")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for b in (self.download_button, self.pause_button, self.resume_button,
                  self.cancel_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        for w in (self.title, self.description, self.details, self.fit, self.progress,
                  self.status):
            layout.addWidget(w)
        layout.addLayout(buttons)
        self.set_idle(installed=entry.bundled, partial=0)

    def set_fit(self, fit: FitEstimate) -> None:
        where = "on the GPU" if fit.device == "GPU" else "on the CPU"
        text = {"fits": f"Fits this computer ({where}): {fit.reason}.",
                "tight": f"Tight here: {fit.reason}.",
                "won't fit": f"Too big for this computer: {fit.reason}."}[fit.verdict]
        self.fit.setText(text)
        self.fit.setProperty("verdict", fit.verdict)

    def _buttons(self, *, download: bool, pause: bool, resume: bool, cancel: bool) -> None:
        self.download_button.setVisible(download)
        self.pause_button.setVisible(pause)
        self.resume_button.setVisible(resume)
        self.cancel_button.setVisible(cancel)

    def set_idle(self, *, installed: bool, partial: int) -> None:
        """No download running: installed, partly downloaded (from an earlier run) or not."""
        if installed:
            self.status.setText("Installed" if not self.entry.bundled else
                                "Installed (ships with the program)")
            self.progress.hide()
            self._buttons(download=False, pause=False, resume=False, cancel=False)
        elif partial:
            self.status.setText(f"Partly downloaded ({gib(partial)}); resume to finish.")
            self._buttons(download=False, pause=False, resume=True, cancel=True)
        else:
            self.status.setText("")
            self.progress.hide()
            self._buttons(download=bool(self.entry.url), pause=False, resume=False, cancel=False)

    def show_task(self, task: DownloadTask) -> None:
        self.status.setText(task.text)
        p = task.progress
        if p is not None and p.fraction is not None:
            self.progress.setValue(int(p.fraction * 1000))
        state = task.state
        self.progress.setVisible(state in (DownloadState.DOWNLOADING, DownloadState.PAUSED))
        self.status.setProperty("role", "error" if state is DownloadState.FAILED else "muted")
        if state is DownloadState.DOWNLOADING:
            self._buttons(download=False, pause=True, resume=False, cancel=True)
        elif state is DownloadState.PAUSED:
            self._buttons(download=False, pause=False, resume=True, cancel=True)
        elif state is DownloadState.DONE:
            self._buttons(download=False, pause=False, resume=False, cancel=False)
        else:  # failed or cancelled: start again
            self._buttons(download=True, pause=False, resume=False, cancel=False)


class InstalledRow(QFrame):
    def __init__(self, model: LocalModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.setObjectName(f"installed_{model.name}")
        info = model.info
        self.title = QLabel(f"<b>{model.name}</b>" + (" (ships with the program)"
                                                      if model.bundled else ""))
        # The file's place in the tooltip: a long path cannot wrap and would widen the page.
        self.details = _muted(f"{gib(info.file_size)} · {info.architecture} · "
                              f"{info.quantization}")
        self.details.setToolTip(f"File: {model.path}")
        self.use_button = QPushButton("Use for chat and sharing")
        self.delete_button = QPushButton("Delete")
        self.delete_button.setEnabled(not model.bundled)
        row = QHBoxLayout(self)
        text = QVBoxLayout()
        text.addWidget(self.title)
        text.addWidget(self.details)
        row.addLayout(text, 1)
        row.addWidget(self.use_button)
        row.addWidget(self.delete_button)

    def set_chosen(self, chosen: bool) -> None:
        self.use_button.setEnabled(not chosen)
        self.use_button.setText("Used for chat and sharing" if chosen
                                else "Use for chat and sharing")
