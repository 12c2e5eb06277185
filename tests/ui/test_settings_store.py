"""Settings survive bad files and bad input: defaults, the old file kept aside, a notice once."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.storage.settings import (
    InvalidSetting,
    Settings,
    SettingsStore,
    load_settings,
    save_settings,
)

BAD_NAME = re.compile(r"^settings\.json\.bad-\d{8}-\d{6}(-\d+)?$")


def _bad_files(config: Path) -> list[Path]:
    return sorted(p for p in config.iterdir() if BAD_NAME.match(p.name))


def test_missing_file_gives_defaults_without_notice(tmp_path):
    store = SettingsStore.open(tmp_path / "settings.json")
    assert store.settings == Settings()
    assert store.take_notice() is None
    assert not (tmp_path / "settings.json").exists()


def test_corrupt_file_is_moved_aside_and_reported_once(tmp_path):
    path = tmp_path / "settings.json"
    garbage = b'{"theme": "dark", \x00\xff truncated'
    path.write_bytes(garbage)

    store = SettingsStore.open(path)
    assert store.settings == Settings()
    [bad] = _bad_files(tmp_path)
    assert bad.read_bytes() == garbage, "the bad file must be kept, byte for byte"
    notice = store.take_notice()
    assert notice is not None and bad.name in notice
    assert store.take_notice() is None, "the notice is handed out once"
    # Defaults were written, so the next start is clean and says nothing.
    again = SettingsStore.open(path)
    assert again.take_notice() is None
    assert again.settings == Settings()
    assert _bad_files(tmp_path) == [bad]


@pytest.mark.parametrize("content", [b"[1, 2, 3]", b"", b"null", b"\xef\xbb\xbf\xff\xfe"])
def test_non_object_or_undecodable_json_is_corrupt(tmp_path, content):
    path = tmp_path / "settings.json"
    path.write_bytes(content)
    result = load_settings(path)
    assert result.settings == Settings()
    assert result.backup is not None and result.backup.read_bytes() == content
    assert not path.exists()


def test_unreadable_settings_path_is_moved_aside(tmp_path):
    path = tmp_path / "settings.json"
    path.mkdir()  # reading a directory fails with an OSError, as a permission problem would
    (path / "inside").write_text("keep me")
    store = SettingsStore.open(path)
    assert store.settings == Settings()
    [bad] = _bad_files(tmp_path)
    assert (bad / "inside").read_text() == "keep me"
    assert "could not be read" in (store.take_notice() or "")
    assert json.loads(path.read_text())["theme"] == "system"


def test_bad_values_reset_only_those_fields_and_keep_a_copy(tmp_path):
    path = tmp_path / "settings.json"
    original = {
        "theme": "purple",
        "api_port": 70000,
        "network": "base-sepolia",
        "custom_rpc_urls": ["https://rpc.example.org", "ftp://nope"],
        "keep_serving_in_background": False,
    }
    path.write_text(json.dumps(original))
    store = SettingsStore.open(path)
    s = store.settings
    assert (s.theme, s.api_port, s.custom_rpc_urls) == ("system", 8082, [])
    assert s.network == "base-sepolia"
    assert s.keep_serving_in_background is False
    notice = store.take_notice() or ""
    for name in ("theme", "api_port", "custom_rpc_urls"):
        assert name in notice
    [bad] = _bad_files(tmp_path)
    assert json.loads(bad.read_text()) == original


def test_unknown_keys_are_preserved(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"theme": "dark", "future_feature": {"x": [1, 2]}}))
    store = SettingsStore.open(path)
    assert store.take_notice() is None
    store.update(api_port=9000)
    saved = json.loads(path.read_text())
    assert saved["future_feature"] == {"x": [1, 2]}
    assert saved["theme"] == "dark" and saved["api_port"] == 9000


def test_update_validates_all_or_nothing_and_notifies(tmp_path):
    path = tmp_path / "settings.json"
    store = SettingsStore.open(path)
    seen: list[frozenset[str]] = []
    unsubscribe = store.subscribe(lambda _s, changed: seen.append(changed))

    with pytest.raises(InvalidSetting) as err:
        store.update(theme="dark", api_port=0)
    assert "port" in err.value.message
    assert store.settings.theme == "system" and not path.exists() and seen == []

    with pytest.raises(InvalidSetting):
        store.update(custom_rpc_urls=["localhost:8545"])
    with pytest.raises(InvalidSetting):
        store.update(no_such_setting=1)

    store.update(theme="dark", custom_rpc_urls=["http://127.0.0.1:8545"])
    assert seen == [frozenset({"theme", "custom_rpc_urls"})]
    assert json.loads(path.read_text())["custom_rpc_urls"] == ["http://127.0.0.1:8545"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    store.update(theme="dark")  # no change, no notification
    unsubscribe()
    store.update(theme="light")
    assert len(seen) == 1


_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)


@settings(max_examples=40, deadline=None)
@given(
    theme=st.sampled_from(["light", "dark", "system"]),
    port=st.integers(1, 65535),
    host=_text,
    flags=st.lists(st.booleans(), min_size=4, max_size=4),
    extra=st.dictionaries(_text.filter(lambda k: k not in Settings.__dataclass_fields__), _text),
)
def test_round_trip_keeps_every_value(tmp_path_factory, theme, port, host, flags, extra):
    extra.pop("schema_version", None)
    path = tmp_path_factory.mktemp("rt") / "settings.json"
    s = Settings(
        theme=theme,
        api_port=port,
        provider_public_host=host,
        api_enabled=flags[0],
        start_minimized=flags[1],
        autostart_sharing=flags[2],
        keep_serving_in_background=flags[3],
        extra=extra,
    )
    save_settings(path, s)
    result = load_settings(path)
    assert result.notice is None
    assert result.settings == s


def test_network_choices_match_the_chain_presets():
    from app.chain.networks import DEVNET_KEY, PRESETS
    from app.storage.settings import DEFAULT_NETWORK, NETWORK_CHOICES

    keys = [k for k, _label in NETWORK_CHOICES]
    assert sorted(keys) == sorted([*PRESETS, DEVNET_KEY])
    assert DEFAULT_NETWORK in PRESETS


def test_long_network_names_are_stored_as_chain_keys(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"network": "arbitrum-one"}))
    store = SettingsStore.open(path)
    assert store.settings.network == "arbitrum"
    store.update(network="base-mainnet")
    assert json.loads(path.read_text())["network"] == "base"
