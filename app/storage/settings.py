"""The user's preferences, kept as one JSON file that survives bad edits and crashes.

A settings file that cannot be read must never stop the program from starting: the bad file is moved
aside (``settings.json.bad-<YYYYmmdd-HHMMSS>``), the program starts on defaults, and a one-time
notice tells the user where the old file went. A file that parses but carries a bad value for one
field resets only that field (a copy of the file is kept aside the same way). Keys this version does
not know are carried through unchanged, so a newer version's settings survive a downgrade.

No Qt here: the headless CLI reads the same settings.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlparse

from app.errors import UserFacingError
from app.fileio import atomic_write_text

log = logging.getLogger(__name__)

Theme = Literal["light", "dark", "system"]
THEMES: tuple[str, ...] = get_args(Theme)

# Network keys as app.chain.networks names them (a test keeps the two lists equal), with the
# labels the Settings page shows.
NETWORK_CHOICES: tuple[tuple[str, str], ...] = (
    ("base", "BASE"),
    ("base-sepolia", "BASE Sepolia (test network)"),
    ("arbitrum", "Arbitrum One (legacy)"),
    ("arbitrum-sepolia", "Arbitrum Sepolia (legacy test network)"),
    ("devnet", "Local devnet (anvil)"),
)
DEFAULT_NETWORK = "base"
# Older or longer spellings some callers use; stored as the chain module's key.
NETWORK_ALIASES = {"base-mainnet": "base", "arbitrum-one": "arbitrum"}

SCHEMA_VERSION = 1
_RPC_SCHEMES = ("http", "https", "ws", "wss")


class InvalidSetting(UserFacingError):
    """A value the user entered (or a file held) that a setting cannot take."""


@dataclass
class Settings:
    """Every persisted preference, with the value a fresh install starts from."""

    theme: str = "system"
    network: str = DEFAULT_NETWORK
    custom_rpc_urls: list[str] = field(default_factory=list)
    api_enabled: bool = False
    api_port: int = 8082
    # MOR (wei) the local API may stake per UTC day on network models on its own; small on purpose.
    api_daily_limit_wei: int = 20 * 10**18
    api_idle_close_s: int = 300  # an API-opened session closes after this long unused
    local_model: str = ""  # the library model chat and sharing load ("" = the first one)
    provider_port: int = 3333
    provider_public_host: str = ""
    start_minimized: bool = False
    autostart_sharing: bool = False
    keep_serving_in_background: bool = True
    tray_hint_shown: bool = False
    window_geometry: str = ""
    last_page: str = "chat"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "extra"}
        merged = dict(self.extra)
        merged.update(data)
        merged["schema_version"] = SCHEMA_VERSION
        return merged

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> tuple[Settings, list[str]]:
        """Build settings from parsed JSON; returns the names of fields that were reset."""
        known = {f.name for f in fields(cls) if f.name != "extra"}
        values: dict[str, Any] = {}
        bad: list[str] = []
        for name in known:
            if name not in data:
                continue
            try:
                values[name] = validate_field(name, data[name])
            except InvalidSetting:
                bad.append(name)
        extra = {k: v for k, v in data.items() if k not in known and k != "schema_version"}
        return cls(**values, extra=extra), sorted(bad)


def _check_port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise InvalidSetting("A port must be a whole number from 1 to 65535.")
    return value


def check_rpc_url(url: str) -> str:
    """Accept an http(s)/ws(s) URL with a host; anything else gets a plain explanation."""
    url = url.strip()
    parsed = urlparse(url)
    if parsed.scheme not in _RPC_SCHEMES or not parsed.netloc:
        raise InvalidSetting(
            f"“{url}” is not a node address. It should look like https://host:port/path.",
        )
    return url


def _check_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidSetting("This setting must be on or off.")
    return value


def _check_str(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidSetting("This setting must be text.")
    return value


def _check_theme(value: Any) -> str:
    if value not in THEMES:
        raise InvalidSetting("The theme must be light, dark or system.")
    return str(value)


def _check_network(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidSetting("Choose a network.")
    return NETWORK_ALIASES.get(value.strip(), value.strip())


def _check_urls(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
        raise InvalidSetting("Node addresses must be a list of URLs.")
    return [check_rpc_url(u) for u in value if u.strip()]


def _check_wei(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidSetting("An amount must be zero or more.")
    return value


def _check_idle(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 86_400:
        raise InvalidSetting("The idle time must be from 1 second to 1 day.")
    return value


_VALIDATORS: dict[str, Callable[[Any], Any]] = {
    "theme": _check_theme,
    "network": _check_network,
    "custom_rpc_urls": _check_urls,
    "api_enabled": _check_bool,
    "api_port": _check_port,
    "api_daily_limit_wei": _check_wei,
    "api_idle_close_s": _check_idle,
    "local_model": _check_str,
    "provider_port": _check_port,
    "provider_public_host": _check_str,
    "start_minimized": _check_bool,
    "autostart_sharing": _check_bool,
    "keep_serving_in_background": _check_bool,
    "tray_hint_shown": _check_bool,
    "window_geometry": _check_str,
    "last_page": _check_str,
}


def validate_field(name: str, value: Any) -> Any:
    """Return the value normalised for ``name`` or raise :class:`InvalidSetting`."""
    try:
        validator = _VALIDATORS[name]
    except KeyError:
        raise InvalidSetting(f"There is no setting called “{name}”.") from None
    return validator(value)


def _aside_path(path: Path) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate = path.with_name(f"{path.name}.bad-{stamp}")
    n = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.bad-{stamp}-{n}")
        n += 1
    return candidate


@dataclass
class LoadResult:
    settings: Settings
    notice: str | None = None
    backup: Path | None = None


def load_settings(path: Path) -> LoadResult:
    """Read settings, never raising: bad files are moved or copied aside and reported once."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return LoadResult(Settings())
    except OSError as exc:
        log.warning("settings file %s unreadable: %s", path, exc)
        return _set_aside(path, f"could not be read ({exc.strerror or exc})", move=True)
    try:
        data = json.loads(raw.decode("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("top level is not an object")
    except (UnicodeDecodeError, ValueError) as exc:
        log.warning("settings file %s is corrupt: %s", path, exc)
        return _set_aside(path, "was damaged", move=True)
    settings, bad = Settings.from_dict(data)
    if not bad:
        return LoadResult(settings)
    log.warning("settings file %s had invalid values for %s", path, ", ".join(bad))
    result = _set_aside(path, f"had invalid values for: {', '.join(bad)}", move=False)
    result.settings = settings
    return result


def _set_aside(path: Path, what: str, *, move: bool) -> LoadResult:
    aside = _aside_path(path)
    try:
        if move:
            os.replace(path, aside)
        else:
            shutil.copy2(path, aside)
    except OSError as exc:
        log.error("could not keep the bad settings file aside: %s", exc)
        return LoadResult(
            Settings(),
            notice=f"Your settings file {what}, so default settings are in use. "
            f"It could not be moved aside: {path}",
        )
    reset = "default settings are in use" if move else "those settings were reset"
    return LoadResult(
        Settings(),
        notice=f"Your settings file {what}, so {reset}. The old file was kept as {aside.name} "
        f"in {aside.parent}.",
        backup=aside,
    )


def save_settings(path: Path, settings: Settings) -> None:
    atomic_write_text(path, json.dumps(settings.to_dict(), indent=2, sort_keys=True) + "\n")


Listener = Callable[[Settings, frozenset[str]], None]


class SettingsStore:
    """The one owner of the settings object: loads once, validates every change, saves atomically.

    ``take_notice()`` hands the load-time notice out exactly once, so the UI says it once.
    """

    def __init__(self, path: Path, result: LoadResult) -> None:
        self.path = path
        self.settings = result.settings
        self.backup = result.backup
        self._notice = result.notice
        self._listeners: list[Listener] = []

    @classmethod
    def open(cls, path: Path) -> SettingsStore:
        store = cls(path, load_settings(path))
        if store.backup is not None:
            # The bad file is safe aside; write the repaired settings so the next start is clean.
            with contextlib.suppress(OSError):
                store.save()
        return store

    def take_notice(self) -> str | None:
        notice, self._notice = self._notice, None
        return notice

    def save(self) -> None:
        save_settings(self.path, self.settings)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(settings, changed_names)`` after each successful update."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def update(self, **changes: Any) -> Settings:
        """Validate and apply ``changes`` all-or-nothing, save, and notify listeners."""
        clean = {name: validate_field(name, value) for name, value in changes.items()}
        changed = frozenset(n for n, v in clean.items() if getattr(self.settings, n) != v)
        if not changed:
            return self.settings
        new = replace(self.settings, **clean)
        save_settings(self.path, new)
        # Mutate in place: other holders (AppContext.settings) keep seeing the current values.
        for name in changed:
            setattr(self.settings, name, clean[name])
        for listener in list(self._listeners):
            try:
                listener(self.settings, changed)
            except Exception:
                log.exception("settings listener failed")
        return self.settings
