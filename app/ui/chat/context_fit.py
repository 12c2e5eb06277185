"""What of a conversation is sent to the model, and what to say when it does not fit.

Why: a model reads a limited amount of text at once (its context). A conversation that grew past
it, or one pasted message larger than it, used to break that chat for good. Here the oldest turns
are left out until the request fits, a question that never got an answer is not sent again, and a
single message that alone is too big gets a message that says exactly what to do. No Qt here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from app.inference.types import ChatMessage

_OVERFLOW = re.compile(r"it is (\d+) tokens and the model's context holds (\d+)")


@dataclass(frozen=True)
class Turn:
    role: str
    content: str


def conversation_turns(history: Sequence[Turn]) -> list[Turn]:
    """The user/assistant turns worth sending: empty ones and questions that never got an
    answer (e.g. one that was too long) are left out, except the last question."""
    turns = [t for t in history if t.role in ("user", "assistant") and t.content]
    kept: list[Turn] = []
    for i, turn in enumerate(turns):
        is_last = i == len(turns) - 1
        answered = not is_last and turns[i + 1].role == "assistant"
        if turn.role == "user" and not is_last and not answered:
            continue
        kept.append(turn)
    return kept


def fitted_messages(system_prompt: str, turns: Sequence[Turn], dropped: int) -> list[ChatMessage]:
    """The request's messages with the ``dropped`` oldest turns left out (never the last one)."""
    dropped = min(dropped, max(0, len(turns) - 1))
    out: list[ChatMessage] = []
    if system_prompt:
        out.append(ChatMessage("system", system_prompt))
    rest = list(turns[dropped:])
    while len(rest) > 1 and rest[0].role != "user":  # a request starts with a question
        rest.pop(0)
    out.extend(ChatMessage("user" if t.role == "user" else "assistant", t.content)
               for t in rest)
    return out


def next_drop(turns: Sequence[Turn], dropped: int) -> int | None:
    """How many turns to leave out on the next try (half of what is left, at least one), or
    ``None`` when only the last question is left."""
    droppable = len(turns) - 1
    if dropped >= droppable:
        return None
    return dropped + max(1, (droppable - dropped + 1) // 2)


def trimmed_note(dropped: int) -> str:
    what = "message was" if dropped == 1 else "messages were"
    return (f"This chat is longer than the model can read at once: its {dropped} oldest "
            f"{what} not sent with this question.")


def too_long_message(text: str, overflow_detail: str) -> str:
    """Exactly what to do when one message alone does not fit."""
    words = len(text.split())
    m = _OVERFLOW.search(overflow_detail)
    fit = ""
    if m and words:
        n_prompt, n_ctx = int(m.group(1)), int(m.group(2))
        if n_prompt > 0:
            fit = f" It can read about {max(1, int(words * n_ctx / n_prompt * 0.8)):,} words."
    return (
        f"This message is too long for this model (about {words:,} words).{fit} Shorten it, or "
        "split it into parts and send them one at a time, or pick a model that reads longer "
        "texts. Your message is kept, and the chat goes on as before."
    )
