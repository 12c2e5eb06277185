"""The local engine with the real SmolLM2 in a real child process."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from app.inference.engine import LocalEngine
from app.inference.gguf_meta import InvalidModelFile
from app.inference.types import ContextOverflow, EngineCrashed, TokenDelta
from tests.inference.conftest import N_CTX, N_SLOTS, N_THREADS, ask, collect

pytestmark = pytest.mark.asyncio(loop_scope="session")

STORY = "Tell me a long story about a robot who learns to paint."


async def test_streams_many_deltas_then_metrics(engine: LocalEngine) -> None:
    deltas, m = await collect(engine.chat_stream(ask("What is the capital of France?", 24)))
    text = "".join(deltas)
    assert len(deltas) >= 3, deltas
    assert text.strip()
    assert m.prompt_tokens > 5
    assert 0 < m.completion_tokens <= 24
    assert m.ttft_ms > 0
    assert m.tokens_per_s > 0


async def test_stops_at_max_tokens(engine: LocalEngine) -> None:
    deltas, m = await collect(engine.chat_stream(ask(STORY, 7)))
    assert m.finish_reason == "length"
    assert m.completion_tokens == 7
    assert len(deltas) >= 2


async def test_stop_string_cuts_the_answer(engine: LocalEngine) -> None:
    full, _ = await collect(engine.chat_stream(ask(STORY, 24)))
    text = "".join(full)
    words = text.split()
    assert len(words) > 6, text
    stop = " " + words[5]  # a word in the middle of the greedy answer
    cut_at = text.index(stop)
    deltas, m = await collect(engine.chat_stream(ask(STORY, 24, stop=(stop,))))
    assert "".join(deltas) == text[:cut_at]
    assert m.finish_reason == "stop"
    assert m.completion_tokens < 24


async def test_cancel_frees_the_slot(engine: LocalEngine) -> None:
    streams = [engine.chat_stream(ask(STORY, 200)) for _ in range(N_SLOTS)]
    for s in streams:  # every slot busy, each has produced something
        ev = await anext(s)
        assert isinstance(ev, TokenDelta)
    t0 = time.monotonic()
    for s in streams:
        await s.aclose()
    # all slots must come back: N_SLOTS fresh requests all finish
    results = await asyncio.gather(
        *(collect(engine.chat_stream(ask("Say hello.", 8))) for _ in range(N_SLOTS))
    )
    assert all(m.completion_tokens > 0 for _, m in results)
    assert engine.active == 0
    # nobody waited for the 200-token stories to finish
    assert time.monotonic() - t0 < 60


async def test_concurrent_requests_are_batched_and_correct(engine: LocalEngine) -> None:
    # prompts whose greedy answers have a wide margin, so batch-size rounding cannot flip a token
    pa = "Count from 1 to 10, separated by commas."
    pb = "Repeat after me: the quick brown fox jumps over the lazy dog."
    solo_a, _ = await collect(engine.chat_stream(ask(pa, 16)))
    solo_b, _ = await collect(engine.chat_stream(ask(pb, 16)))
    first_token: dict[str, float] = {}
    finished: dict[str, float] = {}

    async def run(tag: str, text: str) -> str:
        out = []
        async for ev in engine.chat_stream(ask(text, 16)):
            if isinstance(ev, TokenDelta):
                first_token.setdefault(tag, time.perf_counter())
                out.append(ev.text)
        finished[tag] = time.perf_counter()
        return "".join(out)

    a, b = await asyncio.gather(run("a", pa), run("b", pb))
    # same greedy answers as when each ran alone: batching does not mix sequences up
    assert a == "".join(solo_a)
    assert b == "".join(solo_b)
    # decoded together: each started before the other finished
    assert first_token["b"] < finished["a"] and first_token["a"] < finished["b"]


async def test_fair_queue_round_robin_across_clients(engine: LocalEngine) -> None:
    assert N_SLOTS == 2
    started: list[str] = []

    async def run(tag: str, client: str, max_tokens: int) -> None:
        async for ev in engine.chat_stream(ask(STORY, max_tokens), client=client):
            if isinstance(ev, TokenDelta) and tag not in started:
                started.append(tag)

    # client A fills both slots and queues a third; B arrives after A's queue
    tasks = [
        asyncio.create_task(run("A1", "A", 3)),
        asyncio.create_task(run("A2", "A", 30)),
        asyncio.create_task(run("A3", "A", 3)),
    ]
    await asyncio.sleep(0)  # let A's requests enqueue first (ordering, not timing)
    tasks.append(asyncio.create_task(run("B1", "B", 3)))
    await asyncio.gather(*tasks)
    # the slot A1 frees goes to B (round robin), not to A's next request
    assert started.index("B1") < started.index("A3"), started


async def test_prompt_longer_than_context_is_refused(engine: LocalEngine) -> None:
    long_text = "word " * (N_CTX * 2)
    with pytest.raises(ContextOverflow) as err:
        await collect(engine.chat_stream(ask(long_text, 8)))
    assert "too long" in err.value.message
    # and the engine still answers
    _, m = await collect(engine.chat_stream(ask("Say hi.", 4)))
    assert m.completion_tokens > 0


async def test_killed_child_fails_request_and_restarts(engine: LocalEngine) -> None:
    pid = engine.pid
    assert pid is not None
    stream = engine.chat_stream(ask(STORY, 200))
    assert isinstance(await anext(stream), TokenDelta)
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(EngineCrashed) as err:
        async for _ in stream:
            pass
    assert "stopped unexpectedly" in err.value.message
    assert "killed" in err.value.message
    deltas, m = await collect(engine.chat_stream(ask("What is the capital of France?", 12)))
    assert "".join(deltas).strip() and m.completion_tokens > 0
    assert engine.pid is not None and engine.pid != pid


async def test_device_info_reports_cpu_and_threads(engine: LocalEngine) -> None:
    info = engine.device_info()
    assert info is not None
    assert info.device == "CPU"
    assert info.n_gpu_layers == 0
    assert info.gpu_fallback_reason  # says why not on a GPU
    assert info.n_threads == N_THREADS
    assert info.n_slots == N_SLOTS


async def test_broken_model_file_is_refused_before_loading(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\x00" * 10)
    eng = LocalEngine(bad)
    with pytest.raises(InvalidModelFile):
        await eng.start()
    assert eng.pid is None


async def test_follow_up_turn_reuses_the_cached_prompt(engine: LocalEngine) -> None:
    from app.inference.types import ChatMessage, ChatRequest

    first = ask("Count from 1 to 10, separated by commas.", 12)
    deltas, m1 = await collect(engine.chat_stream(first))
    # a chat re-sends its history: everything before the new turn is already in the cache
    follow = ChatRequest(
        (
            *first.messages,
            ChatMessage("assistant", "".join(deltas)),
            ChatMessage("user", "Now count backwards."),
        ),
        first.params,
    )
    _, m2 = await collect(engine.chat_stream(follow))
    assert m2.prompt_tokens > m1.prompt_tokens
    assert m1.prompt_tokens - 2 <= m2.cached_tokens < m2.prompt_tokens
    # the very same request again reuses all but the last prompt token and answers the same
    again, m3 = await collect(engine.chat_stream(first))
    assert m3.cached_tokens == m1.prompt_tokens - 1
    assert "".join(again) == "".join(deltas)


async def test_model_larger_than_memory_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import struct

    import psutil

    from app.inference.types import ModelLoadError

    # a whole, valid GGUF header whose one f32 tensor is twice this machine's RAM; the file is
    # sparse, so it costs no disk
    n_el = psutil.virtual_memory().total // 2
    key, val = b"general.architecture", b"llama"
    head = struct.pack("<IIQQ", 0x46554747, 3, 1, 1)
    head += struct.pack("<Q", len(key)) + key + struct.pack("<I", 8)
    head += struct.pack("<Q", len(val)) + val
    head += struct.pack("<Q", 1) + b"w" + struct.pack("<IQIQ", 1, n_el, 0, 0)
    data_start = (len(head) + 31) // 32 * 32
    big = tmp_path / "huge.gguf"
    with big.open("wb") as f:
        f.write(head)
        f.truncate(data_start + 4 * n_el)
    eng = LocalEngine(big)
    with pytest.raises(ModelLoadError) as err:
        await eng.start()
    assert "too large for this computer's memory" in err.value.message
    assert eng.pid is None
