"""The Chat page's conversation list: open, search, rename, delete, start a new chat.

A mixin of :class:`app.ui.chat_page.ChatPage` (it uses the page's store, widgets and
``stop``/``show_status``), kept apart so each file stays readable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QListWidgetItem

from app.errors import UserFacingError
from app.ui.first_paint import after_first_paint

# Qt.ItemDataRole.UserRole as a plain number: touching a ``Qt`` enum before the first paint
# builds all of them (see app.ui.first_paint).
CONVERSATION_ID_ROLE = 256


class ConversationsMixin:
    """Conversation list behaviour; ``self`` is the Chat page."""

    _conversation_id: int | None
    _editing_message_id: int | None
    store: Any
    search_box: Any
    conversation_list: Any
    model_picker: Any
    settings_panel: Any
    view: Any
    prompt: Any
    conversations_refreshed: Any
    _sources: list[Any]

    if TYPE_CHECKING:  # the page's own
        def stop(self) -> None: ...
        def show_status(self, text: str, *, error: bool = False) -> None: ...
        def _update_buttons(self) -> None: ...
        def _render_transcript(self) -> None: ...
        def _load_model_settings(self) -> None: ...

    @property
    def conversation_id(self) -> int | None:
        return self._conversation_id

    def refresh_conversations(self) -> None:
        conversations = self.store.list_conversations(self.search_box.text())
        self.conversation_list.blockSignals(True)
        self.conversation_list.clear()
        selected: QListWidgetItem | None = None
        for conv in conversations:
            item = QListWidgetItem(conv.title)
            item.setData(CONVERSATION_ID_ROLE, conv.id)
            self.conversation_list.addItem(item)
            if conv.id == self._conversation_id:
                selected = item
        if selected is not None:
            self.conversation_list.setCurrentItem(selected)
        self.conversation_list.blockSignals(False)
        after_first_paint(self._make_titles_editable)
        self.conversations_refreshed.emit()

    def _make_titles_editable(self) -> None:
        """Double-click, F2 or Rename edits a chat's title. The item flag is a ``Qt`` enum, so at
        launch this waits for the first paint (nobody renames before that)."""
        from PySide6.QtCore import Qt

        listing = self.conversation_list
        blocked = listing.blockSignals(True)  # a flag change is not an edit by the user
        for row in range(listing.count()):
            item = listing.item(row)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
        listing.blockSignals(blocked)

    def conversation_titles(self) -> list[str]:
        return [
            self.conversation_list.item(i).text() for i in range(self.conversation_list.count())
        ]

    def new_conversation(self) -> None:
        """Show an empty transcript; the conversation is stored when the first message is sent."""
        self.stop()
        self._conversation_id = None
        self._editing_message_id = None
        self.conversation_list.clearSelection()
        self.conversation_list.setCurrentRow(-1)
        self.view.show_entries([])
        self.show_status("")  # an old error belongs to the old chat
        self.prompt.setFocus()
        self._update_buttons()

    def open_conversation(self, conversation_id: int) -> None:
        if conversation_id != self._conversation_id:
            self.stop()
        conv = self.store.get_conversation(conversation_id)
        self._conversation_id = conv.id
        self._editing_message_id = None
        self.show_status("")
        if conv.model:
            for i, s in enumerate(self._sources):
                if s.model_name == conv.model:
                    self.model_picker.blockSignals(True)
                    self.model_picker.setCurrentIndex(i)
                    self.model_picker.blockSignals(False)
                    self._load_model_settings()
                    break
        self._render_transcript()
        self.refresh_conversations()
        self._update_buttons()

    def rename_conversation(self, conversation_id: int, title: str) -> None:
        try:
            self.store.rename(conversation_id, title)
        except UserFacingError as exc:
            self.show_status(exc.message, error=True)
        self.refresh_conversations()

    def delete_conversation(self, conversation_id: int) -> None:
        if conversation_id == self._conversation_id:
            self.stop()
            self._conversation_id = None
            self.view.show_entries([])
        self.store.delete(conversation_id)
        self.refresh_conversations()
        self._update_buttons()

    def _selected_id(self) -> int | None:
        item = self.conversation_list.currentItem()
        return None if item is None else int(item.data(CONVERSATION_ID_ROLE))

    def _on_current_item(self, current: QListWidgetItem | None, _prev: object) -> None:
        if current is not None:
            conv_id = int(current.data(CONVERSATION_ID_ROLE))
            if conv_id != self._conversation_id:
                self.open_conversation(conv_id)

    def _on_item_edited(self, item: QListWidgetItem) -> None:
        conv_id = int(item.data(CONVERSATION_ID_ROLE))
        title = item.text().strip()
        if not title:
            self.refresh_conversations()  # an empty name is not kept; show the old one again
            return
        self.rename_conversation(conv_id, title)

    def _on_rename_clicked(self) -> None:
        item = self.conversation_list.currentItem()
        if item is not None:
            self.conversation_list.editItem(item)

    def _on_delete_clicked(self) -> None:
        conv_id = self._selected_id()
        if conv_id is None:
            return
        from PySide6.QtWidgets import QMessageBox

        title = self.store.get_conversation(conv_id).title
        answer = QMessageBox.question(
            self,  # type: ignore[arg-type]
            "Delete chat",
            f"Delete “{title}” and all its messages? This cannot be undone.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_conversation(conv_id)

