"""Where the set-up steps appear, and the "try a local model" landing in Chat.

The main window shows them as a page of its own stack; a Wallet page built without a main window
(a bare widget test) shows them inside its own stack instead. Never a separate window.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QStackedWidget, QWidget

from app.services.context import AppContext
from app.services.onboarding import available_networks
from app.ui.wallet.onboarding import OnboardingWizard

if TYPE_CHECKING:
    from app.services.wallet_service import WalletService


def open_wallet_setup(ctx: AppContext, wallet: WalletService, stack: QStackedWidget,
                      back: Callable[[], None]) -> OnboardingWizard:
    """Show the create/restore steps in the main window (or in ``stack`` when there is none)."""
    window = ctx.extras.get("main_window")
    if window is not None and hasattr(window, "show_welcome"):
        wizard: OnboardingWizard = window.show_welcome(first_run=False).wizard
        return wizard
    wiz = OnboardingWizard(wallet, networks=available_networks(ctx.paths.data),
                           cancellable=True)
    wiz.cancelled.connect(back)
    wiz.leave_to.connect(lambda _page: back())
    stack.addWidget(wiz)
    stack.setCurrentWidget(wiz)
    return wiz


def is_local_source(source: Any, ctx: Any) -> bool:
    """A picker entry that runs on this computer (no wallet, no coins)."""
    from app.api.router import LazyEngine

    engine = getattr(source, "engine", None)
    local = getattr(ctx, "engine", None)
    return isinstance(engine, LazyEngine) or (local is not None and engine is local)


def select_local_model(chat_page: QWidget) -> None:
    """Pick the local model in Chat's model picker, now or as soon as the picker lists it."""
    ctx = getattr(chat_page, "ctx", None)

    def pick() -> bool:
        sources = chat_page.sources()  # type: ignore[attr-defined]
        for i, source in enumerate(sources):
            if is_local_source(source, ctx):
                chat_page.model_picker.setCurrentIndex(i)  # type: ignore[attr-defined]
                return True
        return False

    if pick():
        return
    signal = chat_page.sources_changed  # type: ignore[attr-defined]

    def once() -> None:
        if pick():
            signal.disconnect(once)

    signal.connect(once)
