"""Activity: every money-moving background job, the stake the contract still holds, and every
session this wallet opened or served, so no MOR is ever out of sight.

Jobs come straight from the SQLite job stores of ``services_of(ctx).runners()`` and the table is
brought up to date (debounced) on each "jobs" event, touching only the rows whose job changed;
a hidden page waits and catches up once when shown. Held stake and sessions are read on the qasync
loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.services.app_services import AppServices, services_of
from app.services.consumer_service import ConsumerService
from app.services.context import AppContext
from app.services.tasks import TaskRunner
from app.storage.jobs import Job, JobState
from app.storage.sessions import SessionRecord, SessionStore
from app.ui.a11y import named
from app.ui.activity_table import make_table, tx_cell
from app.ui.formatting import mor as _mor
from app.ui.formatting import when_text
from app.ui.job_words import job_text
from app.ui.ops import OpHost, error_label
from app.ui.placeholder import page_title
from app.ui.words import short_id

log = logging.getLogger(__name__)
_tx_cell = tx_cell  # its old name here (tests build one cell alone)

REBUILD_DEBOUNCE_MS = 150
JOB_COLUMNS = ["Task", "State", "When", "Tries", "Last error", "Transactions", ""]
# Columns whose text wraps inside a fixed width (the rest take their contents' width; the table
# scrolls sideways when the window is narrow rather than cutting words).
JOB_WRAPPED = {0: 240, 4: 220}
SESSION_COLUMNS = ["Role", "Session", "Stake", "Opened", "Ends", "Refunded", "Held until",
                   "Status"]
STATE_TEXT = {
    JobState.PENDING: "Waiting",
    JobState.RUNNING: "Running",
    JobState.DONE: "Done",
    JobState.FAILED: "Failed",
}


def job_when(job: Job) -> str:
    if job.state is JobState.PENDING and job.run_at > job.updated_at + 1:
        return f"next try {when_text(job.run_at)}"
    return when_text(job.updated_at)


def mor(wei: int) -> str:
    return _mor(wei, 6)


class ActivityPage(QWidget):
    """Shown in the sidebar as "Activity"."""

    services_event = Signal(str)
    wallet_event = Signal(str)  # the wallet may speak from a worker thread

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.services: AppServices = services_of(ctx)
        self.host = OpHost(self)
        self.refresh_task: asyncio.Task[Any] | None = None
        self.withdraw_task: asyncio.Task[Any] | None = None
        self.jobs: list[tuple[Job, TaskRunner]] = []
        self.sessions: list[SessionRecord] = []
        self.held: tuple[int, int] | None = None
        self._refresh_again = False
        self._row_keys: list[str] = []  # job keys in table order
        self._row_sig: dict[str, tuple[Any, ...]] = {}  # what each row shows, to skip unchanged
        self._stale = False  # a change came while hidden: catch up when shown

        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 20, 24, 20)
        top = QHBoxLayout()
        top.addWidget(page_title("Activity"), 1)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        top.addWidget(self.refresh_button)
        lay.addLayout(top)
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setProperty("role", "hint")
        self.notice.hide()
        lay.addWidget(self.notice)
        self.errors = error_label()
        lay.addWidget(self.errors)

        lay.addWidget(self._build_held())
        self.api_spent = QLabel()  # what the local API staked today on network models
        self.api_spent.setObjectName("apiSpent")
        self.api_spent.setProperty("role", "hint")
        self.api_spent.setWordWrap(True)
        lay.addWidget(self.api_spent)
        self.show_api_spent()
        lay.addWidget(QLabel("Background tasks"))
        self.jobs_table = named(make_table(JOB_COLUMNS, JOB_WRAPPED, grow=True),
                                "Background tasks")
        lay.addWidget(self.jobs_table, 3)
        lay.addWidget(QLabel("Sessions"))
        self.sessions_table = named(make_table(SESSION_COLUMNS), "Sessions")
        lay.addWidget(self.sessions_table, 2)

        self._rebuild_timer = QTimer(self)
        self._rebuild_timer.setSingleShot(True)
        self._rebuild_timer.setInterval(REBUILD_DEBOUNCE_MS)
        self._rebuild_timer.timeout.connect(self._on_jobs_changed)
        self.services_event.connect(self._on_services_event)
        self.services.on_change(self._forward_services_event)
        self.wallet_event.connect(self._on_wallet_event)
        if ctx.wallet is not None:
            ctx.wallet.add_listener(self._forward_wallet_event)
        self.rebuild_jobs()
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # built outside the event loop: show what is stored, no chain
            return
        self.refresh()

    def _build_held(self) -> QWidget:
        box = QGroupBox("Held stake")
        row = QHBoxLayout(box)
        form = QFormLayout()
        self.withdrawable_label = QLabel("—")
        self.still_held_label = QLabel("—")
        form.addRow("Withdrawable now", self.withdrawable_label)
        form.addRow("Still held (released after the next UTC midnight)", self.still_held_label)
        row.addLayout(form, 1)
        self.withdraw_button = QPushButton("Withdraw now")
        self.withdraw_button.setEnabled(False)
        self.withdraw_button.clicked.connect(self.withdraw_now)
        row.addWidget(self.withdraw_button, 0, Qt.AlignmentFlag.AlignTop)
        return box

    # ----- services ------------------------------------------------------------------------
    def _forward_services_event(self, what: str) -> None:
        with contextlib.suppress(RuntimeError):  # the page was deleted; services live on
            self.services_event.emit(what)

    def _forward_wallet_event(self, what: str) -> None:
        with contextlib.suppress(RuntimeError):
            self.wallet_event.emit(what)

    def show_api_spent(self) -> None:
        from app.services.api_spend import api_ledger
        from app.services.api_spend import mor as mor_text

        spent = api_ledger(self.ctx.paths).spent_today()
        limit = int(getattr(self.ctx.settings, "api_daily_limit_wei", 0) or 0)
        self.api_spent.setText(f"Local API: {mor_text(spent)} staked today on network models "
                               f"(daily limit {mor_text(limit)}; the stake comes back when "
                               "each session closes).")

    def _on_services_event(self, what: str) -> None:
        if what == "api":
            self.show_api_spent()
        if what == "jobs":
            self._rebuild_timer.start()  # many changes in a burst → one rebuild
        elif what == "chain" and self.services.chain is not None:
            self.refresh()  # connected now (a failed attempt also says "chain": not then)

    def _on_wallet_event(self, what: str) -> None:
        if what in ("unlocked", "locked", "changed"):
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self._stale = False
            self.rebuild_jobs()
            self.rebuild_sessions()
            with contextlib.suppress(RuntimeError):  # no loop: only what is stored
                asyncio.get_running_loop()
                self.refresh()  # a missed job may have moved the held stake

    def _on_jobs_changed(self) -> None:
        if not self.isVisible():  # nothing to draw; the chain is read again when shown
            self._stale = True
            return
        self.rebuild_jobs()
        self.refresh()  # a job that moved money changes the held stake and the sessions

    async def _consumer(self) -> ConsumerService | None:
        """The wallet's consumer service (which also resumes its jobs), if it can exist now."""
        wallet = self.ctx.wallet
        if wallet is None or wallet.address is None:
            self._notice("There is no wallet yet. Set one up on the Wallet page.")
            return None
        if not wallet.is_unlocked:
            self._notice("Your wallet is locked. Unlock it on the Wallet page to see and "
                         "resume its tasks.")
            return None
        if await self.services.connect() is None:
            self._notice(f"Not connected to the network: {self.services.chain_error} "
                         "Check the network on the Settings page.")
            return None
        self.notice.hide()
        return await self.services.consumer()

    def _notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.show()

    def refresh(self) -> asyncio.Task[Any] | None:
        """Re-read jobs, held stake and sessions (coalesced while a refresh is running)."""
        if self.refresh_task is not None and not self.refresh_task.done():
            self._refresh_again = True
            return self.refresh_task
        self.refresh_task = self.host.spawn(self._refresh(), self.errors)
        return self.refresh_task

    async def _refresh(self) -> None:
        while True:
            self._refresh_again = False
            consumer = await self._consumer()
            self.rebuild_jobs()
            if consumer is not None:
                self.show_held(await consumer.held_stake())
            self.rebuild_sessions()
            if not self._refresh_again:
                return

    # ----- jobs ----------------------------------------------------------------------------
    def rebuild_jobs(self) -> None:
        """Bring the table up to date, touching only rows whose job changed: this runs on every
        job event while answers may be streaming, so it must stay far below a frame. A hidden page
        only notes that it is behind (``showEvent`` catches up)."""
        if not self.isVisible():
            self._stale = True
            return
        seen: set[str] = set()
        jobs: list[tuple[Job, TaskRunner]] = []
        for runner in self.services.runners():
            for job in runner.store.all():
                if job.key not in seen:
                    seen.add(job.key)
                    jobs.append((job, runner))
        jobs.sort(key=lambda jr: (-jr[0].created_at, -jr[0].id))
        self.jobs = jobs
        t = self.jobs_table
        order = [job.key for job, _ in jobs]
        full = not self._move_rows(order)
        if full:  # the rows' order changed (it never should): build the table afresh
            t.setRowCount(0)
            t.setRowCount(len(order))
            self._row_sig.clear()
        self._row_keys = order
        network = self.services.chain.network if self.services.chain is not None else None
        for row, (job, runner) in enumerate(jobs):
            sig = (job.state, job.attempts, job.tx_hashes, job.last_error, job.run_at,
                   job.updated_at, job.title)
            old = self._row_sig.get(job.key)
            if old == sig:
                continue
            self._row_sig[job.key] = sig
            self._fill_job_row(row, job, runner, network,
                               new_txs=old is None or old[2] != job.tx_hashes,
                               new_state=old is None or old[0] != job.state)
            if not full:
                t.fit_row(row)
        if full:
            t.fit_columns()

    def _move_rows(self, order: list[str]) -> bool:
        """Drop the rows of jobs gone and insert rows for new ones where they sort, keeping
        every other row (and its widgets) as it is. A job's place (by creation) never changes,
        so the kept rows stay in order; False if they did not."""
        t = self.jobs_table
        wanted = set(order)
        rows = list(self._row_keys)
        for row in range(len(rows) - 1, -1, -1):
            if rows[row] not in wanted:
                t.removeRow(row)
                self._row_sig.pop(rows.pop(row), None)
        for i, key in enumerate(order):
            if i < len(rows) and rows[i] == key:
                continue
            if key in self._row_sig:
                return False
            t.insertRow(i)
            rows.insert(i, key)
        return rows == order

    def _fill_job_row(self, row: int, job: Job, runner: TaskRunner, network: Any, *,
                      new_txs: bool, new_state: bool) -> None:
        t = self.jobs_table
        cells = [
            job_text(job.kind, job.payload, job.title),
            STATE_TEXT[job.state],
            job_when(job),
            str(job.attempts),
            job.last_error,
        ]
        for col, text in enumerate(cells):
            item = t.item(row, col)
            if item is None:
                item = QTableWidgetItem()
                t.setItem(row, col, item)
            item.setText(text)
            item.setToolTip(text)
            if col == 0:
                item.setData(Qt.ItemDataRole.UserRole, job.key)
        if new_txs or t.cellWidget(row, 5) is None:
            t.setCellWidget(row, 5, tx_cell(job.tx_hashes, network))
        if new_state or (job.state is JobState.FAILED) != (t.cellWidget(row, 6) is not None):
            if job.state is JobState.FAILED:
                button = QPushButton("Retry")
                button.setProperty("jobKey", job.key)
                button.clicked.connect(lambda _c=False, r=runner, k=job.key: self.retry(r, k))
                t.setCellWidget(row, 6, button)
            else:
                t.removeCellWidget(row, 6)

    def retry(self, runner: TaskRunner, key: str) -> None:
        runner.retry(key)
        self.rebuild_jobs()

    def job_row(self, key: str) -> int:
        for row, (job, _r) in enumerate(self.jobs):
            if job.key == key:
                return row
        return -1

    def retry_button(self, key: str) -> QPushButton | None:
        row = self.job_row(key)
        w = self.jobs_table.cellWidget(row, 6) if row >= 0 else None
        return w if isinstance(w, QPushButton) else None

    # ----- held stake ----------------------------------------------------------------------
    def show_held(self, held: tuple[int, int]) -> None:
        self.held = held
        available, hold = held
        self.withdrawable_label.setText(mor(available))
        self.still_held_label.setText(mor(hold))
        running = self.withdraw_task is not None and not self.withdraw_task.done()
        self.withdraw_button.setEnabled(available > 0 and not running)

    def withdraw_now(self) -> asyncio.Task[Any] | None:
        self.withdraw_button.setEnabled(False)
        self.withdraw_task = self.host.spawn(self._withdraw(), self.errors, keep_running=True)
        return self.withdraw_task

    async def _withdraw(self) -> None:
        """Through the job store like every transfer: reconcile schedules a withdraw job for
        released stake (idempotent), and it runs now instead of at its next check."""
        try:
            consumer = await self._consumer()
            if consumer is None:
                return
            await consumer.reconcile()
            consumer.runner.poke_all()
            await consumer.runner.run_due()
            self.show_held(await consumer.held_stake())
        finally:
            self.withdraw_task = None
            if self.held is not None:
                self.withdraw_button.setEnabled(self.held[0] > 0)
        self.rebuild_jobs()
        self.rebuild_sessions()

    # ----- sessions ------------------------------------------------------------------------
    def _session_stores(self) -> list[SessionStore]:
        stores: list[SessionStore] = []
        for svc in (self.services.started_consumer, self.services.started_provider):
            if svc is not None and svc.sessions not in stores:
                stores.append(svc.sessions)
        return stores

    def rebuild_sessions(self) -> None:
        if not self.isVisible():
            self._stale = True
            return
        records = [r for store in self._session_stores() for r in store.list()]
        records.sort(key=lambda r: -(r.opened_at or int(r.updated_at)))
        self.sessions = records
        t = self.sessions_table
        t.setRowCount(len(records))
        for row, r in enumerate(records):
            held = (f"{mor(r.on_hold)} until {when_text(r.on_hold_until)}"
                    if r.on_hold else "—")
            cells = [
                "You used" if r.role == "consumer" else "You served",
                short_id(r.session_id),
                mor(r.stake) if r.stake else "—",
                when_text(r.opened_at),
                when_text(r.ends_at),
                mor(r.refunded) if r.status == "closed" else "—",
                held,
                r.status,
            ]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(r.session_id if col == 1 else text)
                t.setItem(row, col, item)
        t.resizeRowsToContents()
