"""``python -m app`` and ``morpheus-desktop``: the GUI, plus a few flags that need no window.

- ``--selftest``: check this installation (engine, window offscreen, keyring) and exit 0 or 1.
- ``--autostart on|off|status``: start with my computer (off unless turned on).
- ``--cli ARGS...``: the headless ``morpheus`` command, for installs that ship one executable.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    args = argv[1:]
    if "--selftest" in args:
        from app.selftest import main as selftest

        return selftest(args)
    if args[:1] == ["--autostart"]:
        from app.autostart import cli as autostart

        return autostart(args[1:])
    if args[:1] == ["--cli"]:
        from app.cli import main as cli

        return cli(args[1:])
    import gc

    # No automatic cyclic garbage collection during the imports: the start creates tens of
    # thousands of objects and keeps nearly all of them, so the ~40 collections it would trigger
    # (~8 ms) find next to nothing. app.ui.launch then hands collection to a timer on the GUI
    # thread (app.ui.main_thread_gc), whose first pass comes well after the first paint.
    gc.disable()
    try:
        from app.ui.launch import run_gui

        return run_gui(argv)
    finally:
        gc.enable()


if __name__ == "__main__":
    sys.exit(main())
