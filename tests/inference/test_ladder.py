"""The fallback ladder with the real SmolLM2: a crash forced on the first decode (the worker's
MORPHEUS_ENGINE_CRASH_IF switch, standing in for llama.cpp's AMX segfault) moves the engine to
safer settings, the request still completes, and the working settings are remembered."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import pytest

from app.inference.engine import LocalEngine
from app.inference.engine_worker import WorkerConfig
from app.inference.ladder import (
    RUNGS,
    Ladder,
    ProfileStore,
    config_for,
    cpu_flags,
    known_start,
    next_rung,
)
from app.inference.types import ModelLoadError
from tests.inference.conftest import ask, collect

AMX_CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu vme sse sse2 avx avx2 avx512f avx512_bf16 amx_bf16 avx512_fp16 amx_tile amx_int8
"""
PLAIN_CPUINFO = """processor\t: 0
model name\t: AMD EPYC 7B13
flags\t\t: fpu vme sse sse2 avx avx2 fma
"""


def test_amx_in_cpuinfo_starts_on_the_safe_rung(tmp_path: Path) -> None:
    assert "amx_int8" in cpu_flags(AMX_CPUINFO)
    rung, why = known_start(cpu_flags(AMX_CPUINFO), "0.3.36")
    assert rung == 1 and "AMX" in why
    assert known_start(cpu_flags(PLAIN_CPUINFO), "0.3.36") == (0, "")
    base = WorkerConfig(model_path="m.gguf")
    lad = Ladder(base, ProfileStore(tmp_path / "p.json"), 4, cpuinfo=AMX_CPUINFO)
    lad.plan(tmp_path / "m.gguf", ())
    assert lad.config().use_extra_bufts is False and lad.config().flash_attn == base.flash_attn
    assert lad.message.startswith("Running in compatibility mode (no weight repacking):")
    assert "AMX" in lad.message
    plain = Ladder(base, ProfileStore(tmp_path / "p.json"), 4, cpuinfo=PLAIN_CPUINFO)
    plain.plan(tmp_path / "m.gguf", ())
    assert plain.rung == 0 and plain.message == "" and plain.config().use_extra_bufts


def test_ladder_skips_rungs_that_change_nothing() -> None:
    base = WorkerConfig(model_path="m.gguf", n_threads=1)
    # one thread already: "fewer threads" is no change; on the CPU "CPU only" is none either
    assert next_rung(base, 0, 2, maybe_gpu=False) == 1
    assert next_rung(base, 2, 2, maybe_gpu=False) is None
    assert next_rung(base, 2, 2, maybe_gpu=True) == 4
    four = WorkerConfig(model_path="m.gguf")
    assert next_rung(four, 2, 4, maybe_gpu=False) == 3
    assert config_for(four, 3, 4).n_threads == 2
    assert config_for(four, 4, 4).n_gpu_layers == 0
    lad = Ladder(four, None, 4, cpuinfo=PLAIN_CPUINFO)
    assert lad.child_env() == {}
    assert lad.step_down(True, "m", gpu_failed=True)  # the GPU could not load it: CPU at once
    assert lad.rung == 4 and lad.config().n_gpu_layers == 0
    assert lad.message == (
        "Running in compatibility mode (CPU only, safest settings): "
        "the GPU could not load this model."
    )
    # CPU only: a broken GPU driver must not be loaded at all
    assert lad.child_env()["CUDA_VISIBLE_DEVICES"] == ""
    assert lad.child_env()["GGML_VK_VISIBLE_DEVICES"] == ""


def _engine(model_path: Path, store: Path, **kw: object) -> LocalEngine:
    return LocalEngine(
        model_path, n_slots=1, n_ctx=512, n_threads=1, name="smollm2",
        profile_store=ProfileStore(store), **kw,  # type: ignore[arg-type]
    )


@pytest.mark.asyncio(loop_scope="session")
async def test_crash_on_first_decode_moves_down_and_is_remembered(
    model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "engine_profiles.json"
    eng = _engine(model_path, store)
    await eng.start()
    try:
        start = eng.ladder.rung  # 0 here; 1 on a processor with AMX
        crashing = RUNGS[start + 1].name  # the setting the next rung turns off
        info = eng.device_info()
        assert info is not None and info.mode == RUNGS[start].name
        # the switch is read by each new child; this one is already past loading, so restart it
        await eng.stop()
        monkeypatch.setenv("MORPHEUS_ENGINE_CRASH_IF", crashing)
        deltas, m = await collect(eng.chat_stream(ask("What is the capital of France?", 8)))
        assert "".join(deltas).strip() and m.completion_tokens > 0  # retried, then answered
        assert eng.restarts == 1
        info = eng.device_info()
        assert info is not None and info.mode == crashing
        assert info.mode_message.startswith("Running in compatibility mode")
        assert "the fast path crashed on this processor" in info.mode_message
        saved = json.loads(store.read_text())
        (entry,) = saved.values()
        assert entry["rung"] == start + 1 and entry["mode"] == crashing
    finally:
        await eng.stop()

    # a fresh engine starts on the remembered rung: no crash, same message
    again = _engine(model_path, store)
    try:
        await again.start()
        info = again.device_info()
        assert info is not None and info.mode == crashing and again.restarts == 0
        assert "crashed on this processor" in info.mode_message
        _, m = await collect(again.chat_stream(ask("Say hi.", 4)))
        assert m.completion_tokens > 0 and again.restarts == 0
    finally:
        await again.stop()


@pytest.mark.asyncio(loop_scope="session")
async def test_crash_while_loading_moves_down_before_any_request(
    model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MORPHEUS_ENGINE_CRASH_IF", "extra_bufts,flash_attn,load")
    eng = _engine(model_path, tmp_path / "p.json", cpuinfo=PLAIN_CPUINFO)
    try:
        await eng.start()
        info = eng.device_info()
        # repacking on crashed, then flash attention on: the third rung turns both off
        assert info is not None and info.mode == "flash_attn" and eng.restarts == 2
        assert "crashed on this processor" in info.mode_message
        _, m = await collect(eng.chat_stream(ask("Say hi.", 4)))
        assert m.completion_tokens > 0
    finally:
        await eng.stop()


@pytest.mark.asyncio(loop_scope="session")
async def test_model_that_crashes_on_every_rung_cannot_run_here(
    model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MORPHEUS_ENGINE_CRASH_IF", "always")
    store = tmp_path / "p.json"
    eng = _engine(model_path, store)
    try:
        with pytest.raises(ModelLoadError) as err:
            await collect(eng.chat_stream(ask("Say hi.", 4)))
        assert "cannot run on this computer" in err.value.message
        tries = eng.restarts
        assert 1 <= tries <= len(RUNGS)
        # no crash loop: the next request is refused at once, without starting a child
        t0 = time.monotonic()
        with pytest.raises(ModelLoadError):
            await collect(eng.chat_stream(ask("Say hi.", 4)))
        assert eng.restarts == tries and eng.pid is None
        assert time.monotonic() - t0 < 5
    finally:
        await eng.stop()
    (entry,) = json.loads(store.read_text()).values()
    assert entry["rung"] == -1
    # and a fresh engine remembers it
    with pytest.raises(ModelLoadError) as err:
        await _engine(model_path, store).start()
    assert "cannot run on this computer" in err.value.message


@pytest.mark.asyncio(loop_scope="session")
async def test_request_that_got_no_token_is_retried_on_the_restarted_engine(
    engine: LocalEngine,
) -> None:
    await collect(engine.chat_stream(ask("Say hi.", 4)))  # past the crash-prone start
    pid = engine.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # frozen: it reads nothing and sends no token
    task = asyncio.create_task(collect(engine.chat_stream(ask("What is 2 + 2?", 8))))
    deadline = time.monotonic() + 10
    while engine.active == 0:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    deltas, m = await asyncio.wait_for(task, 120)
    assert "".join(deltas).strip() and m.completion_tokens > 0
    assert engine.pid is not None and engine.pid != pid
    info = engine.device_info()
    assert info is not None and info.mode_message == ""  # a kill is not the fast path's fault


def test_a_damaged_profile_file_counts_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "engine_profiles.json"
    path.write_text("{not json")
    store = ProfileStore(path)
    assert store.get("k") is None
    lad = Ladder(WorkerConfig(model_path="m.gguf"), store, 2, cpuinfo=PLAIN_CPUINFO)
    lad.plan(tmp_path / "m.gguf", ())
    assert lad.rung == 0
    assert lad.step_down(False, "m")  # and it is rewritten whole
    assert json.loads(path.read_text())[lad.key]["rung"] == 1
