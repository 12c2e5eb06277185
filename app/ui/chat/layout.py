"""The Chat page's widgets and their wiring, built onto the page (the way Qt Designer's
``setupUi`` does): conversations on the left; model picker, settings, panels, transcript and
prompt on the right. Kept apart so the page module holds behaviour only."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.ui.chat.picker import ModelPicker
from app.ui.chat.widgets import ChatView, PromptEdit
from app.ui.first_paint import after_first_paint
from app.ui.placeholder import page_title

SEARCH_DEBOUNCE_MS = 200


def selectable_by_mouse(label: QLabel) -> None:
    """Let the user select (and copy) the label's text with the mouse."""
    from PySide6.QtCore import Qt

    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)


def build_chat_page(page: Any) -> None:
    """Create the page's widgets as attributes of ``page`` and connect them to its slots."""
    # left: conversations
    page.search_box = QLineEdit()
    page.search_box.setPlaceholderText("Search chats")
    page.search_box.setClearButtonEnabled(True)
    page.new_button = QPushButton("New chat")
    page.conversation_list = QListWidget()
    page.conversation_list.setEditTriggers(
        QListWidget.EditTrigger.DoubleClicked | QListWidget.EditTrigger.EditKeyPressed
    )
    page.rename_button = QPushButton("Rename")
    page.delete_button = QPushButton("Delete")
    left = QWidget()
    lv = QVBoxLayout(left)
    lv.setContentsMargins(0, 0, 0, 0)
    lv.addWidget(page.new_button)
    lv.addWidget(page.search_box)
    lv.addWidget(page.conversation_list, 1)
    lr = QHBoxLayout()
    lr.addWidget(page.rename_button)
    lr.addWidget(page.delete_button)
    lv.addLayout(lr)

    # right: model picker, settings, transcript, prompt
    page.model_picker = ModelPicker()
    page.model_picker.setPlaceholderText("No model available yet")
    page.model_detail = QLabel("")
    page.model_detail.setProperty("role", "hint")
    page.model_detail.setWordWrap(True)
    page.model_detail.setAccessibleName("About the chosen model")
    page.settings_button = QToolButton()
    page.settings_button.setText("Answer settings")
    page.settings_button.setCheckable(True)
    page.settings_button.setToolTip("How the model answers: precise, balanced or creative")
    page.settings_button.setAccessibleName("Answer settings")
    page.settings_slot = QVBoxLayout()  # the answer settings panel, built when first opened
    page.settings_slot.setContentsMargins(0, 0, 0, 0)
    page.view = ChatView()
    page.status = QLabel("")
    page.status.setWordWrap(True)
    page.status.setProperty("role", "hint")
    after_first_paint(lambda: selectable_by_mouse(page.status))  # a Qt enum: see first_paint
    page.prompt = PromptEdit()
    page.prompt.setPlaceholderText(
        "Message the model (Enter to send, Shift+Enter for a new line)"
    )
    page.prompt.setMaximumHeight(110)
    page.prompt.setAccessibleName("Your message")
    page.send_button = QPushButton("Send")
    page.send_button.setDefault(True)
    page.stop_button = QPushButton("Stop")
    page.stop_button.setToolTip("Stop the answer (Esc)")
    page.regenerate_button = QPushButton("Regenerate")
    page.regenerate_button.setToolTip("Ask again for a new answer to your last message")
    page.edit_button = QPushButton("Edit last")
    page.edit_button.setToolTip("Change your last message and send it again")
    page.status.setAccessibleName("Chat status")
    for button, name in ((page.send_button, "Send message"), (page.stop_button, "Stop answer"),
                         (page.regenerate_button, "Regenerate answer"),
                         (page.edit_button, "Edit last message"),
                         (page.new_button, "New chat"), (page.rename_button, "Rename chat"),
                         (page.delete_button, "Delete chat")):
        button.setAccessibleName(name)
    page.search_box.setAccessibleName("Search chats")
    page.conversation_list.setAccessibleName("Chats")

    top = QHBoxLayout()
    top.addWidget(page_title("Chat"))
    top.addStretch(1)
    model_label = QLabel("Model")
    model_label.setBuddy(page.model_picker)
    top.addWidget(model_label)
    top.addWidget(page.model_picker, 1)
    top.addWidget(page.settings_button)
    buttons = QHBoxLayout()
    buttons.addWidget(page.edit_button)
    buttons.addWidget(page.regenerate_button)
    buttons.addStretch(1)
    buttons.addWidget(page.stop_button)
    buttons.addWidget(page.send_button)
    right = QWidget()
    rv = QVBoxLayout(right)
    rv.setContentsMargins(0, 0, 0, 0)
    rv.addLayout(top)
    rv.addWidget(page.model_detail)
    rv.addLayout(page.settings_slot)
    page.panels = QVBoxLayout()  # extra panels above the transcript (remote session bar)
    rv.addLayout(page.panels)
    rv.addWidget(page.view, 1)
    rv.addWidget(page.status)
    rv.addWidget(page.prompt)
    rv.addLayout(buttons)

    splitter = QSplitter()
    splitter.addWidget(left)
    splitter.addWidget(right)
    splitter.setStretchFactor(1, 1)
    splitter.setCollapsible(1, False)
    left.setMinimumWidth(140)
    splitter.setSizes([200, 700])
    layout = QVBoxLayout(page)
    layout.setContentsMargins(16, 12, 16, 12)
    layout.addWidget(splitter)

    page._search_timer = QTimer(page)
    page._search_timer.setSingleShot(True)
    page._search_timer.setInterval(SEARCH_DEBOUNCE_MS)
    page._search_timer.timeout.connect(page.refresh_conversations)
    page.search_box.textChanged.connect(lambda _t: page._search_timer.start())
    page.new_button.clicked.connect(page.new_conversation)
    page.conversation_list.currentItemChanged.connect(page._on_current_item)
    page.conversation_list.itemChanged.connect(page._on_item_edited)
    page.rename_button.clicked.connect(page._on_rename_clicked)
    page.delete_button.clicked.connect(page._on_delete_clicked)
    page.model_picker.currentIndexChanged.connect(page._on_model_changed)
    page.settings_button.toggled.connect(page._show_settings_panel)
    page.prompt.submitted.connect(page._on_send_clicked)
    page.prompt.escape_pressed.connect(page.stop)
    page.send_button.clicked.connect(page._on_send_clicked)
    page.stop_button.clicked.connect(page.stop)
    page.regenerate_button.clicked.connect(page._on_regenerate_clicked)
    page.edit_button.clicked.connect(page.edit_last)
    page.view.copied.connect(lambda _t: page.show_status("Copied to the clipboard."))
