"""When Qt's X11 plugin cannot load, the program says which packages to install (instead of
Qt aborting with exit 134 and nothing on screen)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.ui.qt_platform_check import check_platform, will_use_xcb

REPO = Path(__file__).resolve().parents[2]
X11 = {"DISPLAY": ":0"}


def build_plugin(tmp_path: Path, needs: list[str]) -> Path:
    """A real shared object at plugins/platforms/libqxcb.so that needs the given libraries,
    which are then removed, as on a machine without those packages."""
    cc = shutil.which("cc") or shutil.which("gcc")
    assert cc, "a C compiler (build-essential, installed by the bootstrap)"
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "stub.c").write_text("int stub_symbol(void) { return 1; }\n")
    link = []
    for soname in needs:
        base = soname.split(".so")[0].removeprefix("lib")
        subprocess.run(
            [
                cc,
                "-shared",
                "-fPIC",
                "-o",
                str(stubs / soname),
                f"-Wl,-soname,{soname}",
                str(stubs / "stub.c"),
            ],
            check=True,
        )
        (stubs / f"lib{base}.so").symlink_to(soname)
        link.append(f"-l{base}")
    plugin = tmp_path / "plugins" / "platforms" / "libqxcb.so"
    plugin.parent.mkdir(parents=True)
    (stubs / "plugin.c").write_text("int plugin_symbol(void) { return 2; }\n")
    subprocess.run(
        [
            cc,
            "-shared",
            "-fPIC",
            "-o",
            str(plugin),
            str(stubs / "plugin.c"),
            f"-L{stubs}",
            "-Wl,--no-as-needed",
            *link,
        ],
        check=True,
    )
    shutil.rmtree(stubs)
    return tmp_path / "plugins"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the xcb plugin is Linux's")
def test_missing_xcb_libraries_are_named_with_the_packages_to_install(tmp_path: Path) -> None:
    # Versions no system has, so the test means the same whether the real packages are
    # installed or not (the bootstrap installs them).
    plugins = build_plugin(tmp_path, ["libxcb-icccm.so.404", "libxcb-keysyms.so.404"])
    problem = check_platform(plugins, X11)
    assert problem is not None
    assert problem.missing == ("libxcb-icccm.so.404", "libxcb-keysyms.so.404")
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1" in problem.message
    assert "cannot open its window" in problem.message


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the xcb plugin is Linux's")
def test_a_plugin_that_loads_is_no_problem(tmp_path: Path) -> None:
    plugins = build_plugin(tmp_path, [])
    assert check_platform(plugins, X11) is None


def test_other_platforms_and_offscreen_are_not_checked(tmp_path: Path) -> None:
    plugins = build_plugin(tmp_path, ["libxcb-icccm.so.404"])
    assert check_platform(plugins, {"QT_QPA_PLATFORM": "offscreen"}) is None
    assert check_platform(plugins, X11, platform="win32") is None
    wayland = {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}
    assert not will_use_xcb(wayland)
    assert will_use_xcb({"QT_QPA_PLATFORM": "xcb"}) and will_use_xcb(X11)


def test_no_display_at_all_is_said_in_words(tmp_path: Path) -> None:
    problem = check_platform(tmp_path, {}, platform="linux")
    assert problem is not None and "needs a graphical desktop" in problem.message


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="DISPLAY is X11's")
def test_the_program_prints_the_reason_and_exits_without_a_display(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    env["MORPHEUS_HOME"] = str(tmp_path / "home")
    proc = subprocess.run(
        [sys.executable, "-m", "app"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 3, (proc.returncode, proc.stderr)
    assert "needs a graphical desktop" in proc.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the xcb plugin is Linux's")
def test_launcher_checks_the_plugins_qt_will_load(tmp_path: Path, monkeypatch) -> None:
    """The frozen bundle points QT_PLUGIN_PATH at its own plugins; the launcher checks those."""
    from app.ui import launch

    plugins = build_plugin(tmp_path, ["libxcb-keysyms.so.404"])
    monkeypatch.setenv("QT_PLUGIN_PATH", str(plugins))
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setenv("DISPLAY", ":0")
    message = launch._platform_problem()
    assert message is not None and "sudo apt install libxcb-keysyms1" in message
