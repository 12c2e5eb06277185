"""The Chat page: pick a model, keep conversations, stream answers.

Everything slow happens on the asyncio (qasync) loop: the engine streams tokens as an async
iterator and this page only appends them; the GUI thread never waits on a model. The page talks to
models through :class:`~app.ui.chat.sources.ChatSource` entries, so remote sessions can be added to
the picker later without changes here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.errors import UserFacingError
from app.services.context import AppContext
from app.storage.chats import (
    ChatStore,
    Conversation,
    ModelSettings,
    StoredMessage,
    default_chat_store_path,
)
from app.ui.chat.conversations import ConversationsMixin
from app.ui.chat.generation import GenerationMixin
from app.ui.chat.layout import build_chat_page
from app.ui.chat.network_side import ensure_network_side, first_sources
from app.ui.chat.picker import ModelPicker
from app.ui.chat.sources import ChatSource, collect_sources, sources_known_now
from app.ui.chat.widgets import ChatView, PromptEdit, TranscriptEntry
from app.ui.ops import Op

if TYPE_CHECKING:  # imported where used: the launch paints this page before asyncio loads
    import asyncio

    from app.ui.chat.settings_panel import ModelSettingsPanel

log = logging.getLogger(__name__)

TITLE_LENGTH = 48


def title_from(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


class ChatPage(ConversationsMixin, GenerationMixin, QWidget):
    """``ChatPage(ctx)``; optional ``sources`` replaces the ones collected from ``ctx``."""

    answer_finished = Signal(str)
    sources_changed = Signal()
    source_changed = Signal(object)  # the picked ChatSource, or None
    search_box: QLineEdit  # these widgets: built by app.ui.chat.layout.build_chat_page
    new_button: QPushButton
    conversation_list: QListWidget
    rename_button: QPushButton
    delete_button: QPushButton
    model_picker: ModelPicker
    model_detail: QLabel
    settings_button: QToolButton
    settings_slot: QVBoxLayout
    view: ChatView
    status: QLabel
    prompt: PromptEdit
    send_button: QPushButton
    stop_button: QPushButton
    regenerate_button: QPushButton
    edit_button: QPushButton
    panels: QVBoxLayout
    _search_timer: QTimer
    conversations_refreshed = Signal()

    def __init__(
        self,
        ctx: AppContext,
        parent: QWidget | None = None,
        *,
        sources: Sequence[ChatSource] | None = None,
        store: ChatStore | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        if store is None:
            store = ctx.chats if isinstance(ctx.chats, ChatStore) else None
        if store is None:
            store = ChatStore(default_chat_store_path(ctx.paths.data))
            ctx.chats = store
        self.store: ChatStore = store
        self._sources: list[ChatSource] = []
        self._conversation_id: int | None = None
        self._editing_message_id: int | None = None
        self.generation_task: asyncio.Task[None] | None = None
        self._sources_task: asyncio.Future[None] | None = None
        self._refresh_lock: asyncio.Lock | None = None  # made on the loop, at first use
        self._settings_panel: ModelSettingsPanel | None = None  # built when first opened
        self._build()
        self.refresh_conversations()
        self.content_ready = False  # the picker has been filled once (the launcher asks)
        if sources is not None:
            self.set_sources(sources)
        else:
            known = sources_known_now(ctx)  # at launch: filled for the first paint, no waiting
            if known is not None:
                self.set_sources(known)
            QTimer.singleShot(0, self._schedule_source_refresh)  # local first, then network
        self._update_buttons()

    # layout ------------------------------------------------------------------------------------
    def _build(self) -> None:
        build_chat_page(self)

    # sources -----------------------------------------------------------------------------------
    def set_sources(self, sources: Sequence[ChatSource]) -> None:
        current = self.current_source()
        self._sources = list(sources)
        self.model_picker.blockSignals(True)
        self.model_picker.clear()
        for source in self._sources:
            self.model_picker.add_model(source.label, source.detail)
        index = 0
        if current is not None:
            for i, s in enumerate(self._sources):
                if s.label == current.label:
                    index = i
        self.model_picker.setCurrentIndex(index if self._sources else -1)
        self.model_picker.blockSignals(False)
        self._on_model_changed(self.model_picker.currentIndex())
        self.content_ready = True
        self.sources_changed.emit()

    def add_panel(self, widget: QWidget) -> None:
        """Show ``widget`` between the model picker and the transcript."""
        self.panels.addWidget(widget)

    def add_source(self, source: ChatSource) -> None:
        self.set_sources([*self._sources, source])

    def sources(self) -> list[ChatSource]:
        return list(self._sources)

    async def refresh_sources(self) -> None:
        """Re-read the local engine's models and every registered source provider. One at a
        time, in order: an early reading (wallet still locked) never lands after a later one."""
        ensure_network_side(self)
        if self._refresh_lock is None:
            import asyncio

            self._refresh_lock = asyncio.Lock()
        async with self._refresh_lock:
            self.set_sources(await collect_sources(self.ctx))

    def _schedule_source_refresh(self) -> None:
        # (no qasync loop running, as in a bare widget test: nothing to do)
        self._sources_task = Op(first_sources(self), self).run()

    def current_source(self) -> ChatSource | None:
        i = self.model_picker.currentIndex()
        return self._sources[i] if 0 <= i < len(self._sources) else None

    def select_source(self, label: str) -> None:
        for i, s in enumerate(self._sources):
            if s.label == label:
                self.model_picker.setCurrentIndex(i)
                return
        raise KeyError(label)

    def _on_model_changed(self, _index: int) -> None:
        source = self.current_source()
        self.model_detail.setText(source.detail if source is not None else "")
        self.model_detail.setVisible(bool(self.model_detail.text()))
        self.source_changed.emit(source)
        if source is None:
            return
        self._load_model_settings()
        if self._conversation_id is not None and not self.busy:
            self.store.set_model(self._conversation_id, source.model_name)

    # answer settings -------------------------------------------------------------------------
    @property
    def settings_panel(self) -> ModelSettingsPanel:
        """The answer settings panel (presets, instructions, Advanced): built on first use, with
        the current model's settings, since most starts never open it (~18 ms)."""
        if self._settings_panel is None:
            from app.ui.chat.settings_panel import ModelSettingsPanel

            panel = ModelSettingsPanel()
            panel.setVisible(self.settings_button.isChecked())
            panel.saved.connect(self._on_settings_saved)
            self.settings_slot.addWidget(panel)
            self._settings_panel = panel
            self._load_model_settings()
        return self._settings_panel

    def _show_settings_panel(self, shown: bool) -> None:
        self.settings_panel.setVisible(shown)

    def _load_model_settings(self) -> None:
        """Show the current model's kept settings in the panel (once it exists)."""
        source = self.current_source()
        if self._settings_panel is not None and source is not None:
            self._settings_panel.load(self.store.model_settings(source.model_name))

    def _on_settings_saved(self, settings: ModelSettings) -> None:
        source = self.current_source()
        if source is None:
            self.show_status("Choose a model first.", error=True)
            return
        try:
            self.store.save_model_settings(source.model_name, settings)
        except UserFacingError as exc:
            self.show_status(exc.message, error=True)
            return
        self.show_status(f"Settings saved for {source.model_name}.")

    # transcript --------------------------------------------------------------------------------
    def messages(self) -> list[StoredMessage]:
        return [] if self._conversation_id is None else self.store.messages(self._conversation_id)

    def _label_for(self, model: str) -> str:
        for s in self._sources:
            if s.model_name == model:
                return s.label
        return model or "Assistant"

    def _render_transcript(self) -> None:
        entries = [
            TranscriptEntry(m.role, m.content, self._label_for(m.model), m.metrics)
            for m in self.messages()
        ]
        self.view.show_entries(entries)

    def transcript_text(self) -> str:
        return self.view.toPlainText()

    # generation --------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.generation_task is not None and not self.generation_task.done()

    def show_status(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setProperty("role", "error" if error else "hint")
        self.status.setStyleSheet("color: #b91c1c;" if error else "")

    def _on_send_clicked(self) -> None:
        self.send()

    def _on_regenerate_clicked(self) -> None:
        self.regenerate()

    def send(self, text: str | None = None) -> asyncio.Task[None] | None:
        """Send ``text`` (or the prompt box) and stream the answer; returns the generation task."""
        if self.busy:
            return None
        text = (self.prompt.toPlainText() if text is None else text).strip()
        if not text:
            return None
        source = self.current_source()
        if source is None:
            self.show_status(
                "No model is available yet. Add one under Models, or open a session with a "
                "provider.",
                error=True,
            )
            return None
        if self._conversation_id is None:
            conv: Conversation = self.store.create_conversation(title_from(text), source.model_name)
            self._conversation_id = conv.id
        elif self._editing_message_id is not None:
            self.store.delete_messages_from(self._conversation_id, self._editing_message_id)
        self._editing_message_id = None
        self.edit_button.setText("Edit last")
        self.store.add_message(self._conversation_id, "user", text, model=source.model_name)
        self.prompt.clear()
        self.refresh_conversations()
        return self._start_generation(source)

    def regenerate(self) -> asyncio.Task[None] | None:
        """Drop the last answer and ask the current model again."""
        if self.busy or self._conversation_id is None:
            return None
        source = self.current_source()
        if source is None:
            return None
        history = self.messages()
        last_user = max((m.id for m in history if m.role == "user"), default=None)
        if last_user is None:
            return None
        later = [m for m in history if m.id > last_user]
        if later:
            self.store.delete_messages_from(self._conversation_id, later[0].id)
        return self._start_generation(source)

    def edit_last(self) -> None:
        """Put the last question back in the prompt box; sending replaces it and what followed."""
        if self.busy or self._conversation_id is None:
            return
        if self._editing_message_id is not None:  # second click cancels the edit
            self._editing_message_id = None
            self.prompt.clear()
            self.edit_button.setText("Edit last")
            self.show_status("")
            return
        last = next((m for m in reversed(self.messages()) if m.role == "user"), None)
        if last is None:
            return
        self._editing_message_id = last.id
        self.prompt.setPlainText(last.content)
        self.prompt.setFocus()
        self.edit_button.setText("Cancel edit")
        self.show_status("Editing your last message: change it and press Send.")

    def stop(self) -> None:
        if self.busy and self.generation_task is not None:
            self.generation_task.cancel()

    def _update_buttons(self) -> None:
        busy = self.busy
        has_conv = self._conversation_id is not None
        self.send_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
        self.regenerate_button.setEnabled(not busy and has_conv)
        self.edit_button.setEnabled(not busy and has_conv)
        self.rename_button.setEnabled(not busy)
        self.delete_button.setEnabled(not busy)
