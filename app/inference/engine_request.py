"""A request queued for the engine's child process (chat or embeddings)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class EngineRequest:
    """One request on its way to the engine's child and its answers coming back."""

    rid: int
    client: str
    payload: dict[str, Any]
    t_submit: float
    events: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    sent: bool = False
    closed: bool = False
    got_tokens: bool = False  # the child sent text for it: a crash now cannot be hidden
    retries: int = 0
