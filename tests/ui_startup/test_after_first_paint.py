"""A returning user's launch: the Chat page paints with its model and chats, and what start-up
defers past that paint (app.ui.first_paint) is in place right after it: chats can be renamed,
the status line can be selected, the sidebar icons are drawn at any size, the Quit keys work,
the tray menu is there, and another page opens when clicked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_launch_paints_chat_with_data_then_completes_the_window(tmp_path):
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "settings.json").write_text(json.dumps({"welcome_done": True}))
    code = """
        import sys, runpy
        from PySide6.QtCore import QTimer
        import app.ui.launch as launch

        def arm(window, then):
            def at_paint():  # the page painted with its data: a model picked, the stored chat
                page = window.pages["chat"]
                print("at_paint", page.model_picker.count() > 0, page.conversation_titles(),
                      flush=True)
                QTimer.singleShot(500, after)

            def after():
                page = window.pages["chat"]
                from PySide6.QtCore import Qt
                item = page.conversation_list.item(0)
                print("editable", bool(item.flags() & Qt.ItemFlag.ItemIsEditable))
                flags = page.status.textInteractionFlags()
                print("selectable", bool(flags & Qt.TextInteractionFlag.TextSelectableByMouse))
                from app.ui.theme import icon_color
                drawn = []
                for r in range(window.sidebar.count()):
                    for px in (20, 64):  # any size is drawn sharp, in the theme's colour
                        img = window.sidebar.item(r).icon().pixmap(px, px).toImage()
                        solid = max((img.pixelColor(x, y) for x in range(px) for y in range(px)),
                                    key=lambda c: c.alpha())
                        drawn.append(solid.alpha() == 255 and solid.name() == icon_color())
                print("icons", len(drawn), all(drawn))
                trays = [c for c in window.children() if type(c).__name__ == "TrayController"]
                print("tray", len(trays), trays[0].toggle_action.text() if trays else "-")
                from PySide6.QtGui import QKeySequence, QShortcut
                keys = [s.key() for s in window.findChildren(QShortcut)]
                print("quit_keys", QKeySequence(QKeySequence.StandardKey.Quit) in keys)
                window.sidebar.setCurrentRow(window.page_keys().index("settings"))
                print("opened", window.current_page_key(),
                      type(window.stack.currentWidget()).__name__, flush=True)
                then()

            original(window, at_paint)

        original = launch._arm_first_paint_mark
        launch._arm_first_paint_mark = arm
        sys.argv = ["app"]
        runpy.run_module("app", run_name="__main__")
    """
    setup = """
        from app.paths import app_paths
        from app.storage.chats import ChatStore, default_chat_store_path
        ChatStore(default_chat_store_path(app_paths().ensure().data)).create_conversation(
            "Trip to Lisbon")
    """
    env = dict(os.environ, MORPHEUS_HOME=str(home), QT_QPA_PLATFORM="offscreen")
    subprocess.run([sys.executable, "-c", textwrap.dedent(setup)], cwd=REPO_ROOT, env=env,
                   check=True, timeout=60)
    env.update(MORPHEUS_BENCH_STARTUP="1", MORPHEUS_BENCH_MARK="1", MORPHEUS_BENCH_IDLE_S="0")
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    assert lines["at_paint"] == "True ['Trip to Lisbon']", proc.stdout
    assert lines["editable"] == "True", "a chat can be renamed (double-click, F2) after start"
    assert lines["selectable"] == "True", "the chat's status line can be selected and copied"
    assert lines["icons"] == "12 True", "every sidebar icon is drawn, in the theme's colour"
    assert lines["quit_keys"] == "True", "the platform's Quit keys (Ctrl+Q) quit"
    assert lines["tray"] == "1 Hide window", "the tray menu is there, saying what it will do"
    assert lines["opened"] == "settings SettingsPage", proc.stdout
