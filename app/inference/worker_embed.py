"""Embeddings in the engine's child process: a second llama.cpp context on the already loaded
model, made on the first request, with mean pooling and L2-normalised vectors.

Why a second context: the chat context keeps each slot's KV cache for the next turn and samples
tokens; an embeddings context pools the hidden states instead. Sharing the weights keeps the
memory cost to a small KV cache.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

N_CTX = 512  # texts longer than this many tokens are refused, never cut silently


class TextTooLong(ValueError):
    pass


class Embedder:
    def __init__(self, ll: Any, model: Any, n_threads: int) -> None:
        self.ll = ll
        self.model = model
        self.n_threads = n_threads
        self.ctx: Any = None
        self.batch: Any = None
        self.n_embd = int(ll.llama_model_n_embd(model))

    def _open(self) -> None:
        ll = self.ll
        p = ll.llama_context_default_params()
        p.n_ctx = p.n_batch = p.n_ubatch = N_CTX
        p.n_seq_max = 1
        p.n_threads = p.n_threads_batch = self.n_threads
        p.embeddings = True
        p.pooling_type = ll.LLAMA_POOLING_TYPE_MEAN
        p.no_perf = True
        ctx = ll.llama_init_from_model(self.model, p)
        if not ctx:
            raise RuntimeError("llama.cpp could not create an embeddings context")
        self.ctx = ctx
        self.batch = ll.llama_batch_init(N_CTX, 0, 1)

    def embed(
        self, texts: list[str], tokenize: Callable[[str], list[int]]
    ) -> tuple[list[list[float]], int]:
        """One unit-length vector per text, and the number of tokens read."""
        if self.ctx is None:
            self._open()
        ll, b = self.ll, self.batch
        out: list[list[float]] = []
        total = 0
        for index, text in enumerate(texts):
            tokens = tokenize(text) or [ll.llama_vocab_bos(ll.llama_model_get_vocab(self.model))]
            if len(tokens) > N_CTX:
                raise TextTooLong(f"input[{index}] is {len(tokens)} tokens; the limit is {N_CTX}")
            total += len(tokens)
            ll.llama_memory_clear(ll.llama_get_memory(self.ctx), True)
            for i, tok in enumerate(tokens):
                b.token[i] = tok
                b.pos[i] = i
                b.n_seq_id[i] = 1
                b.seq_id[i][0] = 0
                b.logits[i] = 1
            b.n_tokens = len(tokens)
            rc = ll.llama_decode(self.ctx, b)
            if rc != 0:
                raise RuntimeError(f"llama_decode returned {rc}")
            ptr = ll.llama_get_embeddings_seq(self.ctx, 0)
            if not ptr:
                raise RuntimeError("llama.cpp returned no embedding")
            vec = [float(ptr[i]) for i in range(self.n_embd)]
            norm = math.sqrt(sum(v * v for v in vec)) or 1.0
            out.append([v / norm for v in vec])
        return out, total
