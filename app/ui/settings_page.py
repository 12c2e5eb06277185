"""Settings: theme, network and node addresses, local API, background behaviour, folders.

Each control saves on change through the one SettingsStore, which validates first; a bad value shows
a plain explanation under its group and nothing is saved, so a typo never loses the old value.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.errors import UserFacingError
from app.services.context import AppContext
from app.storage.settings import NETWORK_CHOICES, InvalidSetting, check_rpc_url
from app.ui.app_state import settings_store
from app.ui.clipboard import SECRET_CLEAR_MS, copy_secret
from app.ui.placeholder import page_title, scroll_body
from app.ui.words import NETWORK_HINTS, network_name

log = logging.getLogger(__name__)

THEME_CHOICES = (("system", "Same as the system"), ("light", "Light"), ("dark", "Dark"))


def _error_label() -> QLabel:
    label = QLabel()
    label.setProperty("role", "error")
    label.setWordWrap(True)
    label.hide()
    return label


class SettingsPage(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.store = settings_store(ctx)
        s = self.store.settings
        self.open_url: Callable[[QUrl], bool] = QDesktopServices.openUrl

        self.appearance_error = _error_label()
        self.network_error = _error_label()
        self.api_error = _error_label()
        self.background_error = _error_label()
        self.folders_error = _error_label()

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(14)
        layout.addWidget(page_title("Settings"))

        # Appearance
        self.theme_combo = QComboBox()
        self.theme_combo.setObjectName("themeCombo")
        for value, label in THEME_CHOICES:
            self.theme_combo.addItem(label, value)
        self.theme_combo.setCurrentIndex(max(0, self.theme_combo.findData(s.theme)))
        self.theme_combo.currentIndexChanged.connect(
            lambda _i: self._save(self.appearance_error, theme=self.theme_combo.currentData())
        )
        box, form = self._group("Appearance", self.appearance_error)
        form.addRow("Theme", self.theme_combo)
        layout.addWidget(box)

        # Network
        self.network_combo = QComboBox()
        self.network_combo.setObjectName("networkCombo")
        for value, _label in NETWORK_CHOICES:
            self.network_combo.addItem(network_name(value), value)
            self.network_combo.setItemData(self.network_combo.count() - 1,
                                           NETWORK_HINTS.get(value, ""),
                                           Qt.ItemDataRole.ToolTipRole)
        if self.network_combo.findData(s.network) < 0:
            self.network_combo.addItem(s.network, s.network)
        self.network_combo.setCurrentIndex(self.network_combo.findData(s.network))
        self.network_combo.currentIndexChanged.connect(
            lambda _i: self._save(self.network_error, network=self.network_combo.currentData())
        )
        self.rpc_edit = QPlainTextEdit("\n".join(s.custom_rpc_urls))
        self.rpc_edit.setObjectName("rpcUrls")
        self.rpc_edit.setPlaceholderText("One address per line, e.g. https://mainnet.base.org")
        self.rpc_edit.setFixedHeight(80)
        self.rpc_save = QPushButton("Save node addresses")
        self.rpc_save.setObjectName("saveRpc")
        self.rpc_save.clicked.connect(self.save_rpc_urls)
        box, form = self._group("Network", self.network_error)
        form.addRow("Network", self.network_combo)
        form.addRow("Your own node addresses\n(optional, tried first)", self.rpc_edit)
        form.addRow("", self.rpc_save)
        layout.addWidget(box)

        # Local API
        self.api_enabled = QCheckBox("Serve an OpenAI-compatible API on this computer")
        self.api_enabled.setChecked(s.api_enabled)
        self.api_enabled.setObjectName("apiEnabled")
        self.api_enabled.toggled.connect(self._api_switched)
        self.api_port = QSpinBox()
        self.api_port.setObjectName("apiPort")
        self.api_port.setRange(1, 65535)
        self.api_port.setValue(s.api_port)
        self.api_port.editingFinished.connect(
            lambda: self._save(self.api_error, api_port=self.api_port.value())
        )
        self.api_key_edit = QLineEdit()
        self.api_key_edit.setObjectName("apiKey")
        self.api_key_edit.setReadOnly(True)
        self.api_key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.show_key = QPushButton("Show")
        self.show_key.setCheckable(True)
        self.show_key.toggled.connect(self._toggle_key)
        self.copy_key = QPushButton("Copy")
        self.copy_key.setToolTip("The clipboard is cleared after 1 minute.")
        self.clipboard_clear_ms = SECRET_CLEAR_MS
        self.copy_key.setObjectName("copyApiKey")
        self.copy_key.clicked.connect(self._copy_key)
        key_row = QHBoxLayout()
        key_row.addWidget(self.api_key_edit, 1)
        key_row.addWidget(self.show_key)
        key_row.addWidget(self.copy_key)
        self.api_url_edit = QLineEdit()
        self.api_url_edit.setObjectName("apiBaseUrl")
        self.api_url_edit.setReadOnly(True)
        self.api_url_edit.setToolTip("Paste this as the “base URL” of any OpenAI-compatible tool.")
        self.copy_url = QPushButton("Copy")
        self.copy_url.setObjectName("copyApiUrl")
        self.copy_url.clicked.connect(self._copy_url)
        url_row = QHBoxLayout()
        url_row.addWidget(self.api_url_edit, 1)
        url_row.addWidget(self.copy_url)
        self.api_limit = QDoubleSpinBox()
        self.api_limit.setObjectName("apiDailyLimit")
        self.api_limit.setDecimals(2)
        self.api_limit.setRange(0.0, 1_000_000.0)
        self.api_limit.setSuffix(" MOR")
        self.api_limit.setValue(s.api_daily_limit_wei / 10**18)
        self.api_limit.setToolTip(
            "The most MOR the API may stake per day (UTC) in sessions it opens on its own for "
            "network models (mor/…). The stake comes back when a session closes. 0 turns "
            "network models off in the API."
        )
        self.api_limit.editingFinished.connect(self._save_limit)
        self.api_state = QLabel()
        self.api_state.setObjectName("apiState")
        self.api_state.setWordWrap(True)
        box, form = self._group("Local API", self.api_error)
        form.addRow(self.api_enabled)
        form.addRow("Port (127.0.0.1)", self.api_port)
        form.addRow("API key", key_row)
        form.addRow("Base URL", url_row)
        form.addRow("Network models: daily limit", self.api_limit)
        form.addRow("State", self.api_state)
        layout.addWidget(box)
        self._load_api_key()
        self._api_services: Any = None
        self._watch_api()

        # Background
        self.keep_serving = QCheckBox(
            "Keep serving in the background when the window is closed (tray icon)"
        )
        self.keep_serving.setObjectName("keepServing")
        self.keep_serving.setChecked(s.keep_serving_in_background)
        self.keep_serving.toggled.connect(
            lambda on: self._save(self.background_error, keep_serving_in_background=bool(on))
        )
        self.start_minimized = QCheckBox("Start hidden in the tray")
        self.start_minimized.setChecked(s.start_minimized)
        self.start_minimized.toggled.connect(
            lambda on: self._save(self.background_error, start_minimized=bool(on))
        )
        self.autostart_sharing = QCheckBox("Resume sharing my GPU when the program starts")
        self.autostart_sharing.setChecked(s.autostart_sharing)
        self.autostart_sharing.toggled.connect(
            lambda on: self._save(self.background_error, autostart_sharing=bool(on))
        )
        from app.autostart import Autostart

        self.autostart = Autostart()
        self.start_at_login = QCheckBox("Start Morpheus Desktop when I log in to this computer")
        self.start_at_login.setObjectName("startAtLogin")
        self.start_at_login.setChecked(self.autostart.enabled())
        self.start_at_login.toggled.connect(self._start_at_login)
        box, form = self._group("Background", self.background_error)
        form.addRow(self.start_at_login)
        form.addRow(self.keep_serving)
        form.addRow(self.start_minimized)
        form.addRow(self.autostart_sharing)
        layout.addWidget(box)

        # Folders
        box, form = self._group("Folders", self.folders_error)
        self.folder_buttons: dict[str, QPushButton] = {}
        for key, label, path in (
            ("data", "Data (wallet, models, history)", ctx.paths.data),
            ("logs", "Logs", ctx.paths.logs),
            ("config", "Settings", ctx.paths.config),
        ):
            row = QHBoxLayout()
            shown = QLineEdit(str(path))
            shown.setReadOnly(True)
            button = QPushButton("Open")
            button.setObjectName(f"open_{key}")
            button.clicked.connect(lambda _c=False, p=path: self.open_folder(p))
            self.folder_buttons[key] = button
            row.addWidget(shown, 1)
            row.addWidget(button)
            form.addRow(label, row)
        layout.addWidget(box)
        layout.addStretch(1)

        scroll_body(self, content)

    @staticmethod
    def _group(title: str, error: QLabel) -> tuple[QGroupBox, QFormLayout]:
        box = QGroupBox(title)
        outer = QVBoxLayout(box)
        form = QFormLayout()
        outer.addLayout(form)
        outer.addWidget(error)
        return box, form

    def _save(self, error: QLabel, **changes: Any) -> bool:
        try:
            self.store.update(**changes)
        except UserFacingError as exc:
            error.setText(exc.message)
            error.show()
            return False
        except OSError as exc:
            log.error("could not save settings: %s", exc)
            error.setText(f"Could not save your settings ({exc.strerror or exc}). Nothing changed.")
            error.show()
            return False
        error.hide()
        return True

    def _start_at_login(self, on: bool) -> None:
        """Off by default; the entry runs this very program (the installed one when frozen)."""
        try:
            self.autostart.enable() if on else self.autostart.disable()
        except OSError as exc:
            log.error("autostart %s failed: %s", "on" if on else "off", exc)
            self.background_error.setText(
                f"Could not change starting at login ({exc.strerror or exc}).")
            self.background_error.show()
            with QSignalBlocker(self.start_at_login):
                self.start_at_login.setChecked(self.autostart.enabled())
            return
        self.background_error.hide()
        self.start_at_login.setToolTip(f"Entry: {self.autostart.location()}" if on else "")

    def _api_switched(self, on: bool) -> None:
        if self._save(self.api_error, api_enabled=bool(on)):
            self.refresh_api_state()

    def save_rpc_urls(self) -> bool:
        lines = [ln.strip() for ln in self.rpc_edit.toPlainText().splitlines() if ln.strip()]
        try:
            urls = [check_rpc_url(u) for u in lines]
        except InvalidSetting as exc:
            self.network_error.setText(exc.message + " Nothing was saved.")
            self.network_error.show()
            return False
        return self._save(self.network_error, custom_rpc_urls=urls)

    def _load_api_key(self) -> None:
        try:
            from app.api.keys import load_or_create_api_key

            key = load_or_create_api_key(self.ctx.paths)
        except Exception as exc:  # the API part may not be installed or may fail to write
            log.warning("API key unavailable: %s", exc)
            self.api_key_edit.setPlaceholderText("not available")
            self.copy_key.setEnabled(False)
            self.show_key.setEnabled(False)
            return
        self.api_key_edit.setText(key)

    def _watch_api(self) -> None:
        """Follow the running API (started by ``app.ui.api_switch`` from the same settings)."""
        from app.services.app_services import services_of

        self._api_services = services_of(self.ctx)
        self._api_services.on_change(self._on_services)
        self.refresh_api_state()

    def _on_services(self, what: str) -> None:
        if what == "api":
            # RuntimeError: the page was deleted (window closed) before the services.
            with contextlib.suppress(RuntimeError):
                self.refresh_api_state()

    def refresh_api_state(self) -> None:
        from app.api.service import window_api

        api = window_api(self.ctx)
        s = self.store.settings
        url = api.base_url or f"http://127.0.0.1:{s.api_port}/v1"
        self.api_url_edit.setText(url)
        if api.running:
            n = api.requests_served
            text = f"Listening on {api.base_url} · {n} request{'s' if n != 1 else ''} served"
            if api.network is not None:
                from app.services.api_spend import mor

                staked = api.network.ledger.spent_today()
                text += f" · {mor(staked)} staked today on network models"
            self.api_state.setText(text)
        elif s.api_enabled and api.error:
            self.api_state.setText(f"Not running: {api.error}")
        elif s.api_enabled:
            self.api_state.setText("Starting…")
        else:
            self.api_state.setText("Off: nothing listens.")

    def _save_limit(self) -> None:
        wei = round(self.api_limit.value() * 100) * 10**16  # exact cents of MOR, as int wei
        if self._save(self.api_error, api_daily_limit_wei=wei):
            self.refresh_api_state()

    def _copy_url(self) -> None:
        QApplication.clipboard().setText(self.api_url_edit.text())
        self.copy_url.setText("Copied")

    def _toggle_key(self, shown: bool) -> None:
        self.api_key_edit.setEchoMode(
            QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password
        )
        self.show_key.setText("Hide" if shown else "Show")

    def _copy_key(self) -> None:
        copy_secret(self.api_key_edit.text(), self.clipboard_clear_ms)
        self.copy_key.setText("Copied (cleared in 1 min)")

    def open_folder(self, path: Path) -> bool:
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.folders_error.setText(f"Could not create {path}: {exc.strerror or exc}")
            self.folders_error.show()
            return False
        if not self.open_url(QUrl.fromLocalFile(str(path))):
            self.folders_error.setText(
                f"No file manager could open {path}. The path above can be copied."
            )
            self.folders_error.show()
            return False
        self.folders_error.hide()
        return True
