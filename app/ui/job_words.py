"""Each background job in words a person understands ("Return your stake from session 0x12ab…"),
instead of its kind (``consumer.close``): one place for Activity, notices and the quit dialog."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.ui.formatting import mor
from app.ui.words import short_id

# kind → sentence; "{session}" is the short session id when the job names one.
_WORDS: dict[str, str] = {
    "consumer.open": "Open a session and stake MOR",
    "consumer.close": "Return your stake from session {session}",
    "consumer.withdraw": "Collect stake that was held until midnight (UTC)",
    "provider.setup": "Go online: register, add the model and post your offer",
    "provider.claim": "Collect earnings from session {session}",
}


def job_text(kind: str, payload: Mapping[str, Any] | None = None, title: str = "") -> str:
    """What a job does, in words; the stake of an open when the job records it."""
    payload = payload or {}
    words = _WORDS.get(kind)
    if words is None:  # a kind this window does not know yet: its title, never the raw kind
        return title or "Background task"
    session = str(payload.get("session_id") or "")
    text = words.format(session=short_id(session) if session else "").replace("  ", " ").strip()
    if kind == "consumer.open":
        stake = payload.get("stake")
        if isinstance(stake, (int, str)) and str(stake).isdigit() and int(stake):
            text += f" ({mor(int(stake), 2)})"
    return text
