"""Share my GPU: offer this machine's model to the network and earn MOR (content lands later)."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from app.services.context import AppContext
from app.ui.placeholder import PlaceholderPage


class SharePage(PlaceholderPage):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(
            "Share my GPU",
            "Serve a model from this computer to people on the Morpheus network and earn MOR. "
            "The provider checklist (model, price, stake, reachability) will appear here.",
            parent,
        )
        self.ctx = ctx
