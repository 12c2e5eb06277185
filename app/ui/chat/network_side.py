"""The Chat page's network side (network models in the picker, the remote panel), added after the
page has shown its local content.

Why apart from the page: the network side imports the chain, wallet and p2p stacks (eth_account,
aiohttp, py_ecc: about a second on a slow machine). Keeping those imports out of the page's module
lets the page paint its conversations and local models first; the network side follows right
after, on the event loop, and any explicit refresh installs it before listing sources.
"""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING, Any, TypeGuard

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QWidget

from app.ui.chat.sources import collect_sources

if TYPE_CHECKING:
    from app.services.remote_chat import ProviderSwitched


def ensure_network_side(page: Any) -> None:
    """Install the remote panel and the network-models source on ``page`` (once)."""
    if getattr(page, "remote_panel", None) is None:
        from app.ui.chat.remote_panel import install_remote_chat

        page.remote_panel = install_remote_chat(page)


#: A page on screen that has not painted by then is not waited for any longer.
PAINT_WAIT_S = 0.5


async def next_paint(widget: QWidget, latest_s: float = PAINT_WAIT_S) -> None:
    """Until ``widget`` has painted (at most ``latest_s``; at once when it is not on screen)."""
    import asyncio  # (here: the launch paints the page before asyncio loads)

    if not widget.isVisible():
        return
    loop = asyncio.get_running_loop()
    painted: asyncio.Future[None] = loop.create_future()

    def done() -> None:
        if not painted.done():
            painted.set_result(None)

    class Watch(QObject):
        def eventFilter(self, _watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                loop.call_soon(done)  # after this paint has finished
            return False

    watch = Watch(widget)
    widget.installEventFilter(watch)
    widget.update()
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(painted, latest_s)
    finally:
        widget.removeEventFilter(watch)
        watch.deleteLater()


async def first_sources(page: Any) -> None:
    """The page's first fill of the picker: what is known without the network stack (unless the
    page could list it as it was built), painted, then the network side (its imports hold the
    loop a moment) and a full refresh."""
    if not page.content_ready:
        page.set_sources(await collect_sources(page.ctx))
    await next_paint(page)
    ensure_network_side(page)
    await page.refresh_sources()


def is_provider_switch(event: object) -> TypeGuard[ProviderSwitched]:
    """Whether a stream event says the provider failed and another one answers afresh. Only a
    network model's stream sends one: without the remote module loaded, no event can be one (and
    a local answer never waits for that import)."""
    remote = sys.modules.get("app.services.remote_chat")
    return remote is not None and isinstance(event, remote.ProviderSwitched)
