"""What the Share page shows must be what the provider really does: these helpers turn the
provider's state into the page's progress list, switch and timers, so a stop (from the page, the
tray, the earnings cap or the program's shutdown) leaves nothing that still says "online"."""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtWidgets import QListWidget

from app.services.provider_service import ProviderDashboard, ProviderState

RUNNING = "… "
DONE = "✓ "
FAILED = "✗ "
LIVE = (ProviderState.WAITING, ProviderState.SERVING)


def is_online(d: ProviderDashboard | None) -> bool:
    return d is not None and d.state in LIVE


def mark_steps(progress: QListWidget, mark: str) -> None:
    """Every step still running ("… ") becomes done (``DONE``) or failed (``FAILED``)."""
    for i in range(progress.count()):
        item = progress.item(i)
        if item.text().startswith(RUNNING):
            item.setText(mark + item.text()[len(RUNNING):])


def add_step(progress: QListWidget, text: str) -> None:
    """A new running step; the ones before it are done."""
    mark_steps(progress, DONE)
    progress.addItem(RUNNING + text)
    progress.scrollToBottom()


def clear_steps(progress: QListWidget) -> None:
    """Not sharing any more: the going-online steps (ending "Online: waiting for users") no
    longer describe anything; the dashboard's state says what is true."""
    progress.clear()
    progress.hide()


async def end_before_stop(task: asyncio.Task[Any] | None, timeout: float = 10.0) -> None:
    """Quitting while the switch is half-way: that work ends first (its own clean-up stops the
    node), so the services' stop that follows removes whatever it had put on chain; no bid is
    left behind with nobody serving it, and the quit never waits on a dialog nobody sees."""
    if task is None or task.done():
        return
    task.cancel()
    await asyncio.wait({task}, timeout=timeout)
