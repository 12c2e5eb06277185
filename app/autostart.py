""" "Start with my computer": an XDG autostart entry, a Windows Run key or a macOS LaunchAgent.

Off by default; only the user turns it on (``morpheus-desktop --autostart on``). The entry starts
the same program the user is running now: the installed bundle's executable, or ``python -m app``
from a Python environment, so turning it on from a development checkout does not point at a
bundle that is not there. Whether the window then stays in the tray is the ``start_minimized``
setting's business, not this module's.
"""

from __future__ import annotations

import os
import plistlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

ENTRY_NAME = "MorpheusDesktop"  # Windows Run value name
DESKTOP_FILE = "morpheus-desktop.desktop"
LAUNCH_AGENT = "org.mor.morpheus-desktop"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"


def launch_command() -> list[str]:
    """The command line that starts this very installation of the program."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "app"]


class Registry(Protocol):
    """The few ``winreg`` calls used, so the Windows code can be exercised elsewhere."""

    def get(self, name: str) -> str | None: ...
    def set(self, name: str, value: str) -> None: ...
    def delete(self, name: str) -> None: ...


class WinRegRun:
    """HKEY_CURRENT_USER's Run key: per user, no administrator rights needed."""

    def __init__(self) -> None:
        import winreg  # type: ignore[import-not-found,unused-ignore]

        self._w: Any = winreg

    def get(self, name: str) -> str | None:
        w = self._w
        try:
            with w.OpenKey(w.HKEY_CURRENT_USER, RUN_KEY) as key:
                value, _kind = w.QueryValueEx(key, name)
                return str(value)
        except OSError:
            return None

    def set(self, name: str, value: str) -> None:
        w = self._w
        with w.CreateKey(w.HKEY_CURRENT_USER, RUN_KEY) as key:
            w.SetValueEx(key, name, 0, w.REG_SZ, value)

    def delete(self, name: str) -> None:
        w = self._w
        try:
            with w.OpenKey(w.HKEY_CURRENT_USER, RUN_KEY, 0, w.KEY_SET_VALUE) as key:
                w.DeleteValue(key, name)
        except FileNotFoundError:
            pass


def _desktop_exec_arg(arg: str) -> str:
    """Quote one argument for a .desktop ``Exec=`` line (the Desktop Entry spec's rules)."""
    arg = arg.replace("%", "%%")
    if arg and not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`"):
        return arg
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in arg)
    return f'"{escaped}"'


def _windows_cmdline(args: Sequence[str]) -> str:
    import subprocess

    return subprocess.list2cmdline(list(args))


@dataclass
class Autostart:
    """Turn starting at login on or off for the current user on this OS."""

    platform: str = sys.platform
    home: Path | None = None
    registry: Registry | None = None  # Windows only; the real Run key when None

    def _home(self) -> Path:
        return self.home if self.home is not None else Path.home()

    def location(self) -> str:
        """Where the entry lives, to tell the user."""
        if self.platform == "win32":
            return f"HKEY_CURRENT_USER\\{RUN_KEY}\\{ENTRY_NAME}"
        return str(self._file())

    def _file(self) -> Path:
        if self.platform == "darwin":
            return self._home() / "Library" / "LaunchAgents" / f"{LAUNCH_AGENT}.plist"
        config = os.environ.get("XDG_CONFIG_HOME") if self.home is None else None
        base = Path(config) if config else self._home() / ".config"
        return base / "autostart" / DESKTOP_FILE

    def _reg(self) -> Registry:
        if self.registry is None:
            self.registry = WinRegRun()
        return self.registry

    def render(self, command: Sequence[str]) -> str:
        """The entry's text for this OS (the registry value on Windows)."""
        if self.platform == "win32":
            return _windows_cmdline(command)
        if self.platform == "darwin":
            plist = {
                "Label": LAUNCH_AGENT,
                "ProgramArguments": list(command),
                "RunAtLoad": True,
                "ProcessType": "Interactive",
            }
            return plistlib.dumps(plist).decode("utf-8")
        exec_line = " ".join(_desktop_exec_arg(a) for a in command)
        return (
            "[Desktop Entry]\n"
            "Type=Application\n"
            "Name=Morpheus Desktop\n"
            "Comment=Start Morpheus Desktop when you log in\n"
            f"Exec={exec_line}\n"
            "Icon=morpheus-desktop\n"
            "Terminal=false\n"
            "X-GNOME-Autostart-enabled=true\n"
        )

    def enabled(self) -> bool:
        if self.platform == "win32":
            return self._reg().get(ENTRY_NAME) is not None
        return self._file().is_file()

    def enable(self, command: Sequence[str] | None = None) -> None:
        from app.fileio import atomic_write_text

        text = self.render(command or launch_command())
        if self.platform == "win32":
            self._reg().set(ENTRY_NAME, text)
            return
        path = self._file()
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text, mode=0o644)

    def disable(self) -> None:
        if self.platform == "win32":
            self._reg().delete(ENTRY_NAME)
            return
        self._file().unlink(missing_ok=True)


def cli(args: Sequence[str]) -> int:
    """``--autostart on|off|status``."""
    auto = Autostart()
    what = args[0] if args else "status"
    try:
        if what == "on":
            auto.enable()
            print(f"Morpheus Desktop will start when you log in ({auto.location()}).")
        elif what == "off":
            auto.disable()
            print("Morpheus Desktop will no longer start when you log in.")
        elif what == "status":
            state = "on" if auto.enabled() else "off"
            print(f"Start with my computer: {state} ({auto.location()})")
        else:
            print("usage: morpheus-desktop --autostart on|off|status", file=sys.stderr)
            return 2
    except OSError as exc:
        print(
            f"Could not change the start-up setting at {auto.location()}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    return 0
