"""Before the QApplication exists: can Qt's platform plugin start on this screen?

When a shared library of Qt's X11 (xcb) plugin is missing, Qt aborts the process (exit 134) and
its only words go to our log file. On a fresh Debian that is ``libxcb-icccm4`` and
``libxcb-keysyms1``. So on Linux, when the window would go to an X server, we load the plugin
ourselves first (Qt loads the very same file a moment later, so this costs nothing when all is
well) and, if that fails, name the missing libraries and the packages that bring them.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

# soname prefix -> Debian/Ubuntu package (what ``apt install`` needs) for the xcb plugin's
# dependencies, read off ``ldd libqxcb.so`` of PySide6 6.x.
DEBIAN_PACKAGES: dict[str, str] = {
    "libxcb-icccm.so": "libxcb-icccm4",
    "libxcb-keysyms.so": "libxcb-keysyms1",
    "libxcb-cursor.so": "libxcb-cursor0",
    "libxcb-image.so": "libxcb-image0",
    "libxcb-render-util.so": "libxcb-render-util0",
    "libxcb-xinerama.so": "libxcb-xinerama0",
    "libxcb-randr.so": "libxcb-randr0",
    "libxcb-shape.so": "libxcb-shape0",
    "libxcb-shm.so": "libxcb-shm0",
    "libxcb-sync.so": "libxcb-sync1",
    "libxcb-xfixes.so": "libxcb-xfixes0",
    "libxcb-xkb.so": "libxcb-xkb1",
    "libxcb-xinput.so": "libxcb-xinput0",
    "libxcb-render.so": "libxcb-render0",
    "libxcb-glx.so": "libxcb-glx0",
    "libxcb-util.so": "libxcb-util1",
    "libxcb.so": "libxcb1",
    "libxkbcommon-x11.so": "libxkbcommon-x11-0",
    "libxkbcommon.so": "libxkbcommon0",
    "libX11-xcb.so": "libx11-xcb1",
    "libX11.so": "libx11-6",
    "libSM.so": "libsm6",
    "libICE.so": "libice6",
    "libGL.so": "libgl1",
    "libEGL.so": "libegl1",
    "libOpenGL.so": "libopengl0",
    "libGLX.so": "libglx0",
    "libfontconfig.so": "libfontconfig1",
    "libfreetype.so": "libfreetype6",
    "libdbus-1.so": "libdbus-1-3",
    "libglib-2.0.so": "libglib2.0-0",
}
_NOT_FOUND = re.compile(r"^\s*(\S+)\s*=>\s*not found", re.MULTILINE)
_DLOPEN_MISSING = re.compile(r"(\S+\.so[.\d]*): cannot open shared object file")


class PlatformProblem(NamedTuple):  # (a NamedTuple: this module loads before the window)
    missing: tuple[str, ...]  # sonames, when the problem is missing libraries
    message: str  # plain words, printed before the program exits


def package_for(soname: str) -> str | None:
    for prefix, package in DEBIAN_PACKAGES.items():
        if soname.startswith(prefix):
            return package
    return None


def missing_libraries(plugin: Path, *, ldd: str | None = None) -> list[str]:
    """Sonames the plugin (or a library it needs) cannot find; empty when it loads.

    Tries the real thing first (``dlopen``); only on failure runs ``ldd`` for the full list,
    since ``dlopen`` names only the first missing library."""
    # Imported here, not at the top: most starts never get this far (no X server in use).
    import ctypes
    import shutil
    import subprocess

    try:
        ctypes.CDLL(str(plugin))
        return []
    except OSError as exc:
        first = _DLOPEN_MISSING.findall(str(exc))
    ldd = ldd if ldd is not None else shutil.which("ldd")
    if ldd:
        try:
            out = subprocess.run(
                [ldd, str(plugin)], capture_output=True, text=True, timeout=20, check=False
            ).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        found = list(dict.fromkeys(_NOT_FOUND.findall(out)))
        if found:
            return found
    return first or ["(a library of the X11 plugin)"]


def will_use_xcb(env: Mapping[str, str]) -> bool:
    """Whether Qt is going to pick its X11 plugin for this environment."""
    requested = env.get("QT_QPA_PLATFORM", "").strip()
    if requested:
        return requested.split(";")[0].split(":")[0] == "xcb"
    wayland = bool(env.get("WAYLAND_DISPLAY")) and env.get("XDG_SESSION_TYPE") == "wayland"
    return bool(env.get("DISPLAY")) and not wayland


def check_platform(
    plugins_dir: Path, env: Mapping[str, str] | None = None, *, platform: str = sys.platform
) -> PlatformProblem | None:
    """A problem that would make Qt abort, in words, or None when the window can open."""
    env = os.environ if env is None else env
    if not platform.startswith("linux"):
        return None
    requested = env.get("QT_QPA_PLATFORM", "").strip()
    if not requested and not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        return PlatformProblem(
            (),
            "Morpheus Desktop needs a graphical desktop to show its window, and none was found "
            "(DISPLAY and WAYLAND_DISPLAY are not set). Start it from your desktop session; on a "
            "server use the `morpheus` command instead.",
        )
    if not will_use_xcb(env):
        return None
    plugin = plugins_dir / "platforms" / "libqxcb.so"
    if not plugin.is_file():
        return None  # a Qt without the plugin: let Qt say so (logged), nothing we can name
    missing = missing_libraries(plugin)
    if not missing:
        return None
    packages = sorted({p for p in (package_for(m) for m in missing) if p})
    lines = [
        "Morpheus Desktop cannot open its window: the system is missing libraries that the "
        "X11 display support needs: " + ", ".join(missing) + ".",
    ]
    if packages:
        lines.append(
            "On Debian or Ubuntu, install them with:\n    sudo apt install " + " ".join(packages)
        )
    lines.append(
        "(On other systems install the packages that provide these files; the .deb package of "
        "Morpheus Desktop installs them for you.)"
    )
    return PlatformProblem(tuple(missing), "\n".join(lines))
