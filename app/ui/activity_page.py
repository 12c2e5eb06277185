"""Activity: sessions, jobs and transactions in one list (content lands later)."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from app.services.context import AppContext
from app.ui.placeholder import PlaceholderPage


class ActivityPage(PlaceholderPage):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(
            "Activity",
            "Your sessions, background jobs and transactions, with what was staked, spent and "
            "returned, will be listed here.",
            parent,
        )
        self.ctx = ctx
