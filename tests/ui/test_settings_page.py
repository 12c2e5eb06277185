"""The Settings page saves good input, refuses bad input plainly, and opens folders."""

from __future__ import annotations

import json

from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QApplication


def _saved(paths) -> dict:
    return json.loads(paths.settings_file.read_text())


def test_rpc_urls_bad_input_is_refused_and_nothing_lost(make_window, paths):
    window = make_window()
    window.show()
    page = window.show_page("settings")

    page.rpc_edit.setPlainText("https://good.example.org\n")
    assert page.save_rpc_urls()
    assert _saved(paths)["custom_rpc_urls"] == ["https://good.example.org"]

    page.rpc_edit.setPlainText("https://other.example.org\nlocalhost 8545")
    assert not page.save_rpc_urls()
    assert page.network_error.isVisible()
    assert "localhost 8545" in page.network_error.text()
    assert _saved(paths)["custom_rpc_urls"] == ["https://good.example.org"]

    page.rpc_edit.setPlainText("")
    assert page.save_rpc_urls()
    assert not page.network_error.isVisible()
    assert _saved(paths)["custom_rpc_urls"] == []


def test_network_choice_updates_status_bar_and_file(make_window, paths):
    window = make_window()
    window.show()
    page = window.show_page("settings")
    page.network_combo.setCurrentIndex(page.network_combo.findData("base-sepolia"))
    assert _saved(paths)["network"] == "base-sepolia"
    assert window.network_status.text() == "BASE Sepolia (test network)"


def test_background_and_api_options_persist(make_window, paths):
    window = make_window()
    window.show()
    page = window.show_page("settings")
    page.keep_serving.setChecked(False)
    page.api_port.setValue(9123)
    page.api_port.editingFinished.emit()
    saved = _saved(paths)
    assert saved["keep_serving_in_background"] is False
    assert saved["api_port"] == 9123


def test_api_key_is_masked_until_shown_and_copyable(make_window):
    window = make_window()
    window.show()
    page = window.show_page("settings")
    key = page.api_key_edit.text()
    assert len(key) >= 24
    assert page.api_key_edit.displayText() != key
    page.show_key.click()
    assert page.api_key_edit.displayText() == key
    page.copy_key.click()
    assert QApplication.clipboard().text() == key


def test_folder_open_buttons(make_window, paths):
    window = make_window()
    window.show()
    page = window.show_page("settings")
    opened: list[QUrl] = []
    page.open_url = lambda url: opened.append(url) or True
    page.folder_buttons["logs"].click()
    assert [u.toLocalFile() for u in opened] == [str(paths.logs)]
    assert not page.folders_error.isVisible()

    page.open_url = lambda url: False
    page.folder_buttons["data"].click()
    assert page.folders_error.isVisible()
    assert str(paths.data) in page.folders_error.text()
