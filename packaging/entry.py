"""The frozen program's entry point (PyInstaller runs this as ``__main__``).

The bundle has no ``python`` to run, so its own executable stands in for it: the program starts
child processes as ``sys.executable -m app.inference.engine_worker ...`` (the llama.cpp engine) and
``sys.executable -m app.cli ...`` (the demo's provider), and here those ``-m`` arguments are run
from the frozen modules with :mod:`runpy`, as ``python -m`` would. Started as ``morpheus`` (the
.deb's link) it is the headless CLI; otherwise the GUI and its flags (``--selftest`` etc.).
"""

from __future__ import annotations

import os
import runpy
import sys


def _utf8_locale() -> None:
    """What ``python`` itself does in a C locale (PEP 538): Qt and file names with accents need
    UTF-8, and a desktop started with a bare environment (``env -i``, some launchers) has none."""
    if not sys.platform.startswith("linux"):
        return
    for var in ("LC_ALL", "LC_CTYPE", "LANG"):
        value = os.environ.get(var)
        if value:
            if value in ("C", "POSIX"):
                break
            return
    os.environ["LC_CTYPE"] = "C.UTF-8"


def _windows_console(args: list[str]) -> None:
    """The Windows bundle is a GUI program (no console window behind the window); for the
    flags that print (``--selftest`` etc.) started from a terminal, write to that terminal."""
    if sys.platform != "win32" or sys.stdout is not None:
        return  # not Windows, or output already goes somewhere (a pipe, a file)
    if not any(a in ("--selftest", "--autostart", "--cli", "--version", "--help") for a in args):
        return
    import ctypes

    if ctypes.windll.kernel32.AttachConsole(-1):  # type: ignore[attr-defined,unused-ignore]
        sys.stdout = sys.stderr = open("CONOUT$", "w", encoding="utf-8", buffering=1)  # noqa: SIM115


def _run() -> int:
    _utf8_locale()
    args = sys.argv[1:]
    _windows_console(args)
    if len(args) >= 2 and args[0] == "-m":
        module = args[1]
        sys.argv = [sys.argv[0], *args[2:]]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return 0
    if args[:1] == ["-u"] or (len(args) >= 2 and args[0] == "-c"):
        print("this program is not a Python interpreter", file=sys.stderr)
        return 2
    name = os.path.basename(sys.argv[0]).lower().removesuffix(".exe")
    if name == "morpheus":
        from app.cli import main as cli

        return cli(args)
    from app.__main__ import main

    return main(sys.argv)


if __name__ == "__main__":
    sys.exit(_run())
