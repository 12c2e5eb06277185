"""A first launch (no wallet, no network): every page, the status bar and the tray menu read in
plain words; technical terms only inside "Details" sections."""

from __future__ import annotations

from app.ui.main_window import MainWindow
from tests.ui_words.scan import jargon, texts

# Pages whose files belong to other work in progress (Chat; the welcome steps): their findings
# are reported, not failed, until those branches are merged. The lead empties this list.
OWNED_ELSEWHERE: set[str] = set()  # e.g. {"chat", "welcome"}


def every_page(window: MainWindow) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key in window.page_keys():
        window.show_page(key)
        found[key] = jargon(window)
    return found


def test_first_launch_every_page_in_plain_words(make_window, qtbot):
    window = make_window()
    window.resize(1100, 800)
    window.show()
    qtbot.waitExposed(window)
    found = every_page(window)
    found["tray"] = [a.text() for a in window.tray.menu.actions() if a.text() and
                     jargon_text(a.text())]
    wallet = window.show_page("wallet")
    wizard = wallet.open_onboarding()  # the welcome steps, each one in turn
    qtbot.addWidget(wizard)
    for i in range(wizard.stack.count()):
        wizard.stack.setCurrentIndex(i)
        found.setdefault("welcome", []).extend(jargon(wizard))
    wizard.close()
    failing = {k: v for k, v in found.items() if v and k not in OWNED_ELSEWHERE}
    assert not failing, "\n".join(f"{k}: {line}" for k, v in failing.items() for line in v)
    # The scan did read the pages (an empty walk would pass for the wrong reason).
    window.show_page("wallet")
    assert len([s for s in texts(window) if s.text]) > 5


def jargon_text(text: str) -> bool:
    from tests.ui_words.scan import JARGON

    return bool(JARGON.search(text))


def test_first_launch_controls_have_names_and_tab_reaches_them(make_window, qtbot):
    """The pages this work owns, before any wallet exists: every control can be named by a
    screen reader and reached with Tab (Chat and the welcome steps are checked by their own)."""
    from tests.ui_words.controls import controls, tab_reachable, unnamed

    window = make_window()
    window.resize(1100, 800)
    window.show()
    qtbot.waitExposed(window)
    problems: dict[str, list[str]] = {}
    counted = 0
    for key in ("share", "models", "wallet", "activity", "settings"):
        page = window.show_page(key)
        counted += len(controls(page))
        problems[key] = unnamed(page) + [f"not reached by Tab: {x}"
                                         for x in tab_reachable(page)]
    assert counted > 20
    failing = {k: v for k, v in problems.items() if v}
    assert not failing, "\n".join(f"{k}: {line}" for k, v in failing.items() for line in v)
