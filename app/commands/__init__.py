"""CLI command groups, one module each."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Iterator


def help_when_bare(p: argparse.ArgumentParser) -> None:
    """A command group given no action prints its help and exits 2 (argparse's usage status)."""

    def usage(_args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(handler=usage)


@contextlib.contextmanager
def sigterm_cancels_task() -> Iterator[list[int]]:
    """systemd and Docker stop a service with SIGTERM: treat it as Ctrl-C, cancelling the running
    task so its clean-up runs. The list yielded is non-empty once SIGTERM came (so the caller
    can tell that cancellation from any other)."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    terminated: list[int] = []

    def on_sigterm() -> None:
        terminated.append(signal.SIGTERM)
        if task is not None:
            task.cancel()

    with contextlib.suppress(NotImplementedError, RuntimeError):  # no signal handlers on Windows
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    try:
        yield terminated
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGTERM)
