"""'Start with my computer': off by default, and each OS's entry starts this installation."""

from __future__ import annotations

import os
import plistlib
import shlex
import subprocess
import sys
from pathlib import Path

from app.autostart import ENTRY_NAME, Autostart, launch_command

REPO = Path(__file__).resolve().parents[2]


def test_linux_entry_is_off_by_default_then_on_then_off(tmp_path: Path) -> None:
    auto = Autostart(platform="linux", home=tmp_path)
    assert not auto.enabled()
    program = tmp_path / "Mörpheus Apps" / "morpheus-desktop"
    auto.enable([str(program), "--flag=50%"])
    entry = tmp_path / ".config" / "autostart" / "morpheus-desktop.desktop"
    assert auto.enabled() and entry.is_file()
    text = entry.read_text(encoding="utf-8")
    assert "X-GNOME-Autostart-enabled=true" in text
    exec_line = next(line for line in text.splitlines() if line.startswith("Exec="))
    # Desktop-entry quoting: a path with a space is one argument; % is doubled.
    args = shlex.split(exec_line.removeprefix("Exec=").replace("%%", "%"))
    assert args == [str(program), "--flag=50%"]
    auto.disable()
    assert not auto.enabled() and not entry.exists()
    auto.disable()  # turning off twice is fine


def test_macos_launch_agent_runs_the_program_at_login(tmp_path: Path) -> None:
    auto = Autostart(platform="darwin", home=tmp_path)
    auto.enable(["/Applications/Morpheus Desktop.app/Contents/MacOS/morpheus-desktop"])
    plist_file = tmp_path / "Library" / "LaunchAgents" / "org.mor.morpheus-desktop.plist"
    plist = plistlib.loads(plist_file.read_bytes())
    assert plist["RunAtLoad"] is True
    assert plist["ProgramArguments"] == [
        "/Applications/Morpheus Desktop.app/Contents/MacOS/morpheus-desktop"
    ]
    auto.disable()
    assert not plist_file.exists()


class DictRegistry:
    """Stands in for the Windows registry's Run key, which does not exist on this machine."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def set(self, name: str, value: str) -> None:
        self.values[name] = value

    def delete(self, name: str) -> None:
        self.values.pop(name, None)


def test_windows_run_value_quotes_paths_with_spaces() -> None:
    reg = DictRegistry()
    auto = Autostart(platform="win32", registry=reg)
    assert not auto.enabled()
    auto.enable([r"C:\Users\Zoë\AppData\Local\Programs\Morpheus Desktop\morpheus-desktop.exe"])
    assert reg.values[ENTRY_NAME] == (
        r'"C:\Users\Zoë\AppData\Local\Programs\Morpheus Desktop\morpheus-desktop.exe"'
    )
    assert auto.enabled()
    auto.disable()
    assert reg.values == {}


def test_launch_command_from_a_python_environment_runs_the_package() -> None:
    assert launch_command() == [sys.executable, "-m", "app"]


def test_command_line_flag_turns_it_on_and_off(tmp_path: Path) -> None:
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"))

    def run(*args: str) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "app", "--autostart", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    assert "Start with my computer: off" in run("status")
    assert "will start when you log in" in run("on")
    entry = tmp_path / "cfg" / "autostart" / "morpheus-desktop.desktop"
    assert f"Exec={sys.executable} -m app" in entry.read_text(encoding="utf-8")
    assert "Start with my computer: on" in run("status")
    run("off")
    assert not entry.exists()
