"""The headless ``morpheus`` command: the same services as the GUI, for servers and scripts.

Each command group lives in ``app/commands/<group>.py`` and exposes ``register(subparsers)``;
handlers are ``async`` or plain functions taking the parsed namespace and returning an exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import sys
from collections.abc import Sequence

from app import __version__
from app.errors import UserFacingError

COMMAND_MODULES = (
    "app.commands.devnet",
    "app.commands.wallet",
    "app.commands.models",
    "app.commands.api",
    "app.commands.node",
    "app.commands.jobs",
    "app.commands.demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="morpheus",
        description="Morpheus Desktop, headless: wallet, devnet, models, provider node and chat.",
    )
    parser.add_argument("--version", action="version", version=f"morpheus {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    from app.logsetup import setup_logging

    setup_logging(verbose=args.verbose, console=True)
    try:
        result = handler(args)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
        return int(result or 0)
    except UserFacingError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
