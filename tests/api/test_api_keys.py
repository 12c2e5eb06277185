"""The API key: created once, private to the user, stable across restarts, replaceable."""

from __future__ import annotations

import stat

from app.api.keys import api_key_path, load_or_create_api_key, regenerate_api_key
from app.paths import app_paths


def test_key_is_created_once_owner_only_and_reused(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MORPHEUS_HOME", str(tmp_path))
    paths = app_paths().ensure()
    key = load_or_create_api_key(paths)
    path = api_key_path(paths)
    assert path.parent == paths.config
    assert key.startswith("mor-") and len(key) > 40
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_api_key(paths) == key

    path.chmod(0o644)  # someone loosened it: tightened again on load
    assert load_or_create_api_key(paths) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    new = regenerate_api_key(paths)
    assert new != key and load_or_create_api_key(paths) == new


def test_damaged_key_file_is_replaced(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MORPHEUS_HOME", str(tmp_path))
    paths = app_paths().ensure()
    api_key_path(paths).write_text("short")
    key = load_or_create_api_key(paths)
    assert len(key) > 40 and api_key_path(paths).read_text().strip() == key
