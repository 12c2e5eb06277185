"""The sidebar's pages: name → factory, each imported only when its page is first opened.

Lazy import keeps startup fast (the chat and wallet pages pull in web3, markdown and the model
host) and means a broken page shows an error in its own slot instead of stopping the window.
Other parts of the program can add pages with :func:`MainWindow.register_page`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import NamedTuple

from PySide6.QtWidgets import QWidget

from app.services.context import AppContext

PageFactory = Callable[[AppContext], QWidget]


class PageSpec(NamedTuple):  # (a NamedTuple: ~1 ms less than a dataclass at start-up)
    key: str
    title: str
    icon: str  # name of an SVG in resources/icons
    factory: PageFactory


def lazy_factory(module: str, cls: str) -> PageFactory:
    """A factory that imports ``module`` at call time and builds ``cls(ctx)``."""

    def factory(ctx: AppContext) -> QWidget:
        page_cls = getattr(importlib.import_module(module), cls)
        widget: QWidget = page_cls(ctx)
        return widget

    factory.__qualname__ = f"lazy_factory({module}.{cls})"
    return factory


def default_pages() -> list[PageSpec]:
    return [
        PageSpec("chat", "Chat", "chat", lazy_factory("app.ui.chat_page", "ChatPage")),
        PageSpec("share", "Share my GPU", "share", lazy_factory("app.ui.share_page", "SharePage")),
        PageSpec("models", "Models", "library", lazy_factory("app.ui.library", "LibraryPage")),
        PageSpec("wallet", "Wallet", "wallet", lazy_factory("app.ui.wallet_page", "WalletPage")),
        PageSpec(
            "activity", "Activity", "activity", lazy_factory("app.ui.activity_page", "ActivityPage")
        ),
        PageSpec(
            "settings", "Settings", "settings", lazy_factory("app.ui.settings_page", "SettingsPage")
        ),
    ]
