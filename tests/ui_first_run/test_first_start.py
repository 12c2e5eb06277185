"""A first start opens the welcome steps inside the main window; later starts do not."""

from __future__ import annotations

import json

from PySide6.QtWidgets import QLabel

from app.inference.bundled import BUNDLED_NAME
from app.paths import AppPaths
from app.services.first_start import WELCOME_DONE
from app.services.onboarding import Step
from app.ui.welcome import texts
from tests.ui_first_run.conftest import Launch, visible_top_levels, wait_until


def _saved(paths: AppPaths) -> dict:
    return json.loads(paths.settings_file.read_text()) if paths.settings_file.exists() else {}


async def test_first_start_shows_the_welcome_inside_the_main_window(launch: Launch) -> None:
    window = launch()
    welcome = window.welcome
    assert welcome is not None
    assert window.stack.currentWidget() is welcome and welcome.objectName() == "welcomePage"
    assert welcome.isVisible() and welcome.window() is window
    assert visible_top_levels() == [window], "no second window, no dialog"
    assert not window.sidebar.isVisible() and not window.sidebar.isEnabled()
    wiz = welcome.wizard
    assert wiz.current_step() == Step.WELCOME
    labels = wiz.pages[Step.WELCOME].findChildren(QLabel)
    shown = " ".join(label.text() for label in labels if label.isVisible())
    for sentence in (texts.WALLET, texts.MOR, texts.ETH, texts.TRY_LOCAL_HINT):
        assert sentence in shown
    # The free path is the main one: first in line, focused, Enter presses it.
    assert wiz.try_local_button.isVisible() and window.focusWidget() is wiz.try_local_button
    assert wiz.try_local_button.autoDefault()
    assert wiz.create_button.isVisible() and wiz.import_button.isVisible()
    assert wiz.skip_button.text() == texts.SKIP


async def test_skip_then_the_next_start_goes_straight_to_chat(
    launch: Launch, paths: AppPaths
) -> None:
    first = launch()
    first.welcome.wizard.skip_button.click()
    assert first.welcome is None and first.current_page_key() == "chat"
    assert first.sidebar.isVisible() and first.sidebar.isEnabled()
    first.request_quit()
    assert _saved(paths)[WELCOME_DONE] is True

    second = launch()
    assert second.welcome is None
    assert second.current_page_key() == "chat"
    assert type(second.stack.currentWidget()).__name__ == "ChatPage"


async def test_quit_in_the_middle_keeps_nothing_and_asks_again(
    launch: Launch, paths: AppPaths
) -> None:
    first = launch()
    wiz = first.welcome.wizard
    wiz.create_button.click()
    wiz.written_button.click()
    words = wiz.flow.words
    for word in words[:5]:
        wiz.pick_word(word)
    first.request_quit()  # Quit during the phrase check
    assert not (paths.wallet / "wallet.json").exists()
    assert list(paths.wallet.glob("*")) == [], "no half-written wallet file"
    assert WELCOME_DONE not in _saved(paths)
    assert _saved(paths).get("last_page", "chat") == "chat"

    second = launch()
    assert second.welcome is not None and second.stack.currentWidget() is second.welcome
    assert second.welcome.wizard.current_step() == Step.WELCOME


async def test_try_a_local_model_lands_in_chat_with_it_selected(
    launch: Launch, paths: AppPaths
) -> None:
    window = launch()
    window.welcome.wizard.try_local_button.click()
    assert window.welcome is None and window.current_page_key() == "chat"
    chat = window.stack.currentWidget()
    assert type(chat).__name__ == "ChatPage" and chat.isVisible()

    def local_selected() -> bool:
        source = chat.current_source()
        return source is not None and source.model_name == BUNDLED_NAME

    await wait_until(local_selected, timeout=30)
    assert chat.model_picker.currentText().endswith(BUNDLED_NAME)
    assert not (paths.wallet / "wallet.json").exists(), "no wallet was needed"
    assert _saved(paths)[WELCOME_DONE] is True
    assert visible_top_levels() == [window]


async def test_a_demo_home_opens_without_the_welcome(launch: Launch, tmp_path) -> None:
    """``make demo`` prepares a funded wallet: its window must not show the welcome steps."""
    from app.commands.demo import _paths, _prepare_consumer

    home = tmp_path / "demo" / "consumer"
    _prepare_consumer(home, {"name": "devnet", "chainId": 31337, "rpcUrls": []})
    window = launch(_paths(home))
    assert window.welcome is None
    await wait_until(lambda: window.current_page_key() == "chat", timeout=10)


def test_the_real_launch_shows_the_welcome_without_loading_the_key_stack(tmp_path) -> None:
    """``python -m app`` on a fresh data folder: the welcome is the first page, and it shows
    before the wallet's key code (seconds of imports) is loaded."""
    import os
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    code = textwrap.dedent(
        """
        import sys
        from app.paths import app_paths
        from app.ui.launch import build_main_window, create_application
        app = create_application([])
        window = build_main_window(app, app_paths().ensure(), open_start_page_on_show=False)
        window.show()
        window.open_first_page()
        app.processEvents()
        print("welcome:", window.stack.currentWidget() is window.welcome)
        heavy = sorted(m for m in ("web3", "eth_account", "llama_cpp") if m in sys.modules)
        print("heavy:", ",".join(heavy))
        """
    )
    env = dict(os.environ, MORPHEUS_HOME=str(tmp_path / "home"), QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[2], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["welcome:", "True", "heavy:"], proc.stdout
