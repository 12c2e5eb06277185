"""The Chat page's answer generation: build the request so it fits the model, stream the answer
into the view, keep it with its speed, and turn failures into plain words.

A mixin of :class:`app.ui.chat_page.ChatPage`, kept apart so each file stays readable. When the
model says the conversation is too long, the oldest turns are left out and it is asked again
(before any token, so nothing is shown twice); a single message that alone does not fit gets a
message saying what to do, and the chat stays usable.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from app.errors import UserFacingError
from app.storage.chats import ConversationNotFound
from app.ui.chat.network_side import is_provider_switch
from app.ui.chat.sources import ChatSource
from app.ui.ops import Op

if TYPE_CHECKING:  # imported where used: the launch paints the page before asyncio loads
    import asyncio

    from app.inference.types import ChatRequest, CompletionMetrics
    from app.ui.chat.context_fit import Turn

log = logging.getLogger(__name__)


class _Attempt:
    """What one streaming attempt produced."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.metrics: CompletionMetrics | None = None
        self.first_at: float | None = None


class GenerationMixin:
    """Answer generation; ``self`` is the Chat page."""

    _conversation_id: int | None
    generation_task: asyncio.Task[None] | None
    store: Any
    view: Any
    answer_finished: Any

    if TYPE_CHECKING:  # the page's own
        def show_status(self, text: str, *, error: bool = False) -> None: ...
        def _update_buttons(self) -> None: ...
        def _render_transcript(self) -> None: ...
        def refresh_conversations(self) -> None: ...

    def _start_generation(self, source: ChatSource) -> asyncio.Task[None]:
        assert self._conversation_id is not None
        self._render_transcript()
        self.show_status("")
        task = Op(self._generate(self._conversation_id, source), self).run()  # type: ignore[arg-type]
        assert task is not None, "sending needs the running event loop"
        self.generation_task = task
        task.add_done_callback(lambda _t: self._update_buttons())
        self._update_buttons()
        return task

    def _turns(self, conversation_id: int) -> list[Turn]:
        from app.ui.chat.context_fit import Turn, conversation_turns  # (first answer, not start)

        return conversation_turns(
            [Turn(m.role, m.content) for m in self.store.messages(conversation_id)]
        )

    def _request_for(
        self, conversation_id: int, source: ChatSource, dropped: int = 0
    ) -> ChatRequest:
        from app.inference.types import ChatRequest
        from app.ui.chat.context_fit import fitted_messages

        settings = self.store.model_settings(source.model_name)
        messages = fitted_messages(settings.system_prompt, self._turns(conversation_id), dropped)
        return ChatRequest(tuple(messages), settings.params, source.model_name)

    async def _stream(
        self, conversation_id: int, source: ChatSource, request: ChatRequest, got: _Attempt
    ) -> None:
        from app.inference.types import CompletionDone, TokenDelta

        stream = source.engine.chat_stream(request)
        async with contextlib.aclosing(stream):  # type: ignore[type-var]
            async for event in stream:
                if is_provider_switch(event):
                    # The provider failed and another one answers afresh: drop the partial
                    # answer and say what happened in the conversation itself.
                    got.parts.clear()
                    got.first_at = None
                    with contextlib.suppress(ConversationNotFound):
                        self.store.add_message(conversation_id, "system", event.notice)
                    if conversation_id == self._conversation_id:
                        self._render_transcript()
                        self.view.begin_stream(source.label)
                    self.show_status(event.notice)
                elif isinstance(event, TokenDelta):
                    if got.first_at is None:
                        got.first_at = time.perf_counter()
                    got.parts.append(event.text)
                    self.view.append_text(event.text, event.tokens)
                elif isinstance(event, CompletionDone):
                    got.metrics = event.metrics

    async def _generate(self, conversation_id: int, source: ChatSource) -> None:
        import asyncio

        from app.inference.types import CompletionMetrics, ContextOverflow
        from app.ui.chat.context_fit import next_drop, too_long_message, trimmed_note

        turns = self._turns(conversation_id)
        question = turns[-1].content if turns else ""
        self.view.begin_stream(source.label)
        got = _Attempt()
        error = ""
        note = ""
        started = time.perf_counter()
        cancelled = False
        dropped: int | None = 0
        try:
            while dropped is not None:
                request = self._request_for(conversation_id, source, dropped)
                try:
                    await self._stream(conversation_id, source, request, got)
                    break
                except ContextOverflow as exc:
                    if got.parts:  # (cannot happen before a token; never show text twice)
                        raise
                    dropped = next_drop(turns, dropped)
                    if dropped is None:
                        error = too_long_message(question, exc.message)
                    else:
                        note = trimmed_note(dropped)
        except asyncio.CancelledError:
            cancelled = True
        except UserFacingError as exc:
            error = exc.message
            log.warning("chat generation failed: %s (%s)", exc.message, exc.detail)
        except Exception:
            log.exception("chat generation failed")
            error = "Something went wrong while generating the answer. Details are in the log."
        finally:
            self.view.end_stream()
        text = "".join(got.parts)
        metrics = got.metrics
        if metrics is None and (cancelled or text):
            end = time.perf_counter()
            n = len(got.parts)
            gen = end - (got.first_at or end)
            metrics = CompletionMetrics(
                prompt_tokens=0,
                completion_tokens=n,
                ttft_ms=((got.first_at or end) - started) * 1000,
                tokens_per_s=(n - 1) / gen if n > 1 and gen > 0 else 0.0,
                finish_reason="cancelled",
            )
        if text or (metrics is not None and not error):
            # (the user may have deleted the chat while it was answering)
            with contextlib.suppress(ConversationNotFound):
                self.store.add_message(
                    conversation_id, "assistant", text, model=source.model_name, metrics=metrics
                )

        current = conversation_id == self._conversation_id
        if current:
            self._render_transcript()
        if error:
            if current:
                self.show_status(error, error=True)
        elif cancelled:
            self.show_status("Stopped.")
        elif note and current:
            self.show_status(note)
        self.refresh_conversations()
        self.answer_finished.emit(text)
