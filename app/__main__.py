"""``python -m app`` and ``morpheus-desktop``: the GUI."""

from __future__ import annotations

import sys


def main() -> int:
    from app.ui.launch import run_gui

    return run_gui(sys.argv)


if __name__ == "__main__":
    sys.exit(main())
