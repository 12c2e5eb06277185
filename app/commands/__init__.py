"""CLI command groups, one module each."""

from __future__ import annotations

import argparse


def help_when_bare(p: argparse.ArgumentParser) -> None:
    """A command group given no action prints its help and exits 2 (argparse's usage status)."""

    def usage(_args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(handler=usage)
