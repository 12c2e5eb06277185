"""A first launch at the smallest supported size (800x600) and a common laptop size (1440x900):
no label or button on any page cuts its text, and the welcome steps fit too."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from tests.ui_layout.clipping import clipped

SIZES = [(800, 600), (1440, 900)]
# Pages whose files belong to other work in progress (Chat; the welcome steps): their findings
# are reported, not failed, until those branches are merged. The lead empties this list.
OWNED_ELSEWHERE: set[str] = set()


def settle() -> None:
    """Let pending layout requests run (posted events only: safe inside the qasync loop)."""
    for _ in range(3):
        QApplication.sendPostedEvents()


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_every_page_fits_without_clipping(make_window, qtbot, width, height):
    window = make_window()
    window.resize(width, height)
    window.show()
    qtbot.waitExposed(window)
    assert window.width() == width and window.height() == height  # the minimum allows it
    found: dict[str, list[str]] = {}
    for key in window.page_keys():
        window.show_page(key)
        settle()
        found[key] = clipped(window)
    wallet = window.show_page("wallet")
    wizard = wallet.open_onboarding()
    qtbot.addWidget(wizard)
    wizard.resize(min(width, 720), min(height, 560))
    wizard.show()
    for i in range(wizard.stack.count()):
        wizard.stack.setCurrentIndex(i)
        settle()
        found.setdefault("welcome", []).extend(clipped(wizard))
    wizard.close()
    failing = {k: v for k, v in found.items() if v and k not in OWNED_ELSEWHERE}
    assert not failing, "\n".join(f"{k}: {line}" for k, v in failing.items() for line in v)
