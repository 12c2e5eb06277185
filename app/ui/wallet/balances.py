"""The Wallet page's balances follow the chain, with no Refresh press needed.

What moves them: a new block (the chain watcher of ``AppServices`` says "block"), a background
job that changed state ("jobs": a session opened or closed, stake withdrawn, a claim paid), a
send from this page, the wallet unlocked, and the connection coming back ("chain"). A refresh
runs only while someone can see the page (shown, window not minimised) and the wallet is
unlocked; an event that arrives while hidden is remembered and refreshed when the page shows.

A block refresh is light: the two balances, and the lists only when a balance moved or a send
of ours is still pending. Refreshes never overlap: a request during one makes it run once more.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QLabel, QWidget

from app.services.context import AppContext
from app.services.wallet_service import WalletService
from app.ui.ops import OpHost
from app.wallet.units import format_amount

FALLBACK_MS = 12_000  # when nothing watches the chain (no "block" events), poll this often


class WalletPage(Protocol):
    """What the follower uses of the Wallet page (a protocol: the page imports this module)."""

    ctx: AppContext
    wallet: WalletService
    host: OpHost
    errors: QLabel
    mor_label: QLabel
    eth_label: QLabel
    eth_wei: int | None
    mor_wei: int | None

    def fill_history(self) -> None: ...

    def fill_mor_history(self, transfers: list[Any]) -> None: ...

    def isVisible(self) -> bool: ...

    def window(self) -> QWidget: ...

    def installEventFilter(self, watcher: QObject) -> None: ...


class BalanceFollower(QObject):
    def __init__(self, page: WalletPage) -> None:
        super().__init__(page)  # type: ignore[arg-type]
        from app.services.app_services import services_of

        self.page = page
        self.services = services_of(page.ctx)
        self.task: asyncio.Task[Any] | None = None
        self._again = False
        self._full = True
        self._stale = False
        self.shown: tuple[int, int] | None = None  # (eth, mor) on screen
        page.installEventFilter(self)
        self.services.on_change(self._on_services)
        self.timer = QTimer(self)
        self.timer.setInterval(FALLBACK_MS)
        self.timer.timeout.connect(self._periodic)
        self.timer.start()

    def watching(self) -> bool:
        """Someone can see the page and its numbers can be read."""
        page = self.page
        return (page.isVisible() and not page.window().isMinimized()
                and page.wallet.is_unlocked)

    def refresh(self, *, full: bool = True) -> asyncio.Task[Any] | None:
        page = self.page
        if page.wallet.chain is None or page.wallet.address is None:
            page.mor_label.setText("not connected")
            page.eth_label.setText("not connected")
            return None
        self._full = self._full or full
        if self.task is not None and not self.task.done():
            self._again = True  # the running one makes another pass for this caller
            return self.task
        self.task = page.host.spawn(self._refresh(), page.errors)
        return self.task

    async def _refresh(self) -> None:
        page, wallet = self.page, self.page.wallet
        while True:
            self._again = False
            full, self._full = self._full, False
            b = await wallet.balances()
            page.eth_wei, page.mor_wei = b.eth, b.mor
            page.mor_label.setText(f"{format_amount(b.mor, b.mor_decimals, 6)} MOR")
            page.eth_label.setText(f"{format_amount(b.eth, 18, 6)} ETH")
            moved = self.shown != (b.eth, b.mor)
            self.shown = (b.eth, b.mor)
            pending = any(r.status == "pending" for r in wallet.history())
            if full or moved or pending:
                await wallet.refresh_pending()
                page.fill_history()
                page.fill_mor_history(await wallet.mor_transfers())
            if not self._again:
                return

    def _on_services(self, what: str) -> None:
        with contextlib.suppress(RuntimeError):  # the page was deleted; the services live on
            self._follow(what)

    def _follow(self, what: str) -> None:
        if what == "chain":
            svc = self.services
            if svc.chain is None or svc.chain_error:
                return
            if self.page.errors.isHidden() and self.shown is not None:  # (hidden: own flag)
                return
            what = "block"  # connected (again): read now, which also clears the old error
        if what not in ("block", "jobs"):
            return
        if self.watching():
            self.refresh(full=False)
        else:
            self._stale = True  # read when the page shows again

    def _periodic(self) -> None:
        if self.watching() and not self.page.host.tasks:
            self.refresh(full=False)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Opening the page reads the numbers (a full read the first time or after events
        missed while hidden), so it never shows "…" or an old balance until the next block."""
        if event.type() == QEvent.Type.Show and self.page.wallet.is_unlocked:
            full = self._stale or self.shown is None
            self._stale = False
            QTimer.singleShot(0, self, lambda: self._on_shown(full))
        return False

    def _on_shown(self, full: bool) -> None:
        if self.page.wallet.chain is not None:
            self.refresh(full=full)

    def stop(self) -> None:
        self.timer.stop()
