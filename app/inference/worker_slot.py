"""One request's state inside the engine's child: its sequence, sampler and streamed text."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Slot:
    rid: int
    seq: int
    sampler: Any
    prompt: list[int]
    max_tokens: int
    stops: tuple[str, ...]
    t_recv: float
    n_prefilled: int = 0
    n_reused: int = 0
    fed: list[int] = field(default_factory=list)
    pos: int = 0
    next_token: int = -1
    i_batch: int = -1
    n_gen: int = 0
    t_first: float = 0.0
    held: str = ""
    decoder: Any = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace"))

    @property
    def prefilling(self) -> bool:
        return self.n_prefilled < len(self.prompt)


def hold_back(buf: str, stops: tuple[str, ...]) -> int:
    """Length of the longest suffix of ``buf`` that could still grow into a stop string."""
    keep = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(buf)), keep, -1):
            if buf.endswith(s[:k]):
                keep = k
                break
    return keep
