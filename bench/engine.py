"""Benchmark: our engine (child process, streaming) and our HTTP API vs llama-cpp-python called
directly in-process — same model, prompt, greedy, 128 tokens, and exactly the engine's llama.cpp
settings (threads, flash attention, GPU offload, extra buffer types: whatever rung of the
fallback ladder the engine runs on) — plus the aggregate tokens/s of 8 concurrent requests vs one,
and llama.cpp's raw decode speed measured in the same run through the low-level API the way
``llama-bench``'s tg test does (one token per ``llama_decode``, no sampling, no detokenizing).

Usage: .venv/bin/python bench/engine.py [--runs 5] [--tokens 128] [--threads N]
Last line: ``engine: ratio <x> ttft_ms_added <x> api_ratio <x> concurrency8_ratio <x>
raw_ratio <ours/raw decode>``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.inference.engine import LocalEngine
from app.inference.engine_worker import WorkerConfig
from app.inference.hardware import choose_threads
from app.inference.library import bundled_model_path
from app.inference.types import (
    ChatMessage,
    ChatRequest,
    CompletionDone,
    SamplingParams,
    TokenDelta,
)

PROMPT = "Write a long, detailed story about a lighthouse keeper and a storm."
API_KEY = "bench-key-0123456789abcdef"


@dataclass
class Run:
    ttft_ms: float
    tokens: int
    tok_s: float  # decode rate: (tokens - 1) / (last token - first token)
    wall_s: float


def _rate(n: int, t_first: float, t_last: float) -> float:
    return (n - 1) / (t_last - t_first) if n > 1 and t_last > t_first else float("nan")


def prompt(tag: str) -> str:
    """A distinct user turn per run: both engines may reuse the shared system-prompt prefix from
    their caches (each does by default), neither may reuse the whole previous prompt."""
    return f"[{tag}] {PROMPT}"


def direct_run(llm: object, n_tokens: int, text: str) -> Run:
    t0 = time.perf_counter()
    t_first = t_last = 0.0
    n = 0
    for chunk in llm.create_chat_completion(  # type: ignore[attr-defined]
        [{"role": "user", "content": text}],
        max_tokens=n_tokens,
        temperature=0.0,
        repeat_penalty=1.0,
        stream=True,
    ):
        if chunk["choices"][0]["delta"].get("content"):
            n += 1
            t_last = time.perf_counter()
            if not t_first:
                t_first = t_last
    return Run((t_first - t0) * 1000, n, _rate(n, t_first, t_last), time.perf_counter() - t0)


def direct_llama(model: Path, cfg: WorkerConfig, threads: int, ngl: int) -> object:
    """llama-cpp-python's ``Llama`` with the engine's settings. ``Llama`` has no switch for flash
    attention "auto" or for extra buffer types, so the two params structs are adjusted on their
    way into llama.cpp (only while this one model loads)."""
    import llama_cpp.llama_cpp as ll
    from llama_cpp import Llama

    load, init = ll.llama_model_load_from_file, ll.llama_init_from_model

    def load_same(path: bytes, params: object) -> object:
        params.use_extra_bufts = cfg.use_extra_bufts  # type: ignore[attr-defined]
        return load(path, params)

    def init_same(m: object, params: object) -> object:
        params.flash_attn_type = cfg.flash_attn  # type: ignore[attr-defined]
        return init(m, params)

    ll.llama_model_load_from_file, ll.llama_init_from_model = load_same, init_same
    try:
        return Llama(
            str(model),
            n_ctx=2048,
            n_batch=cfg.n_batch,
            n_ubatch=cfg.n_batch,
            n_threads=threads,
            n_threads_batch=threads,
            n_gpu_layers=ngl,
            verbose=False,
        )
    finally:
        ll.llama_model_load_from_file, ll.llama_init_from_model = load, init


def raw_decode_tps(
    llm: object, cfg: WorkerConfig, threads: int, n_prompt: int, n_gen: int
) -> float:
    """Tokens/s of bare ``llama_decode`` on one sequence after an ``n_prompt`` prefill: the speed
    llama.cpp itself reaches with these settings, the ceiling for any engine built on it."""
    import llama_cpp.llama_cpp as ll

    model = llm._model.model  # type: ignore[attr-defined]
    cp = ll.llama_context_default_params()
    cp.n_ctx = 2048
    cp.n_batch = cp.n_ubatch = cfg.n_batch
    cp.n_threads = cp.n_threads_batch = threads
    cp.flash_attn_type = cfg.flash_attn
    cp.no_perf = True
    ctx = ll.llama_init_from_model(model, cp)
    assert ctx, "could not create a context"
    batch = ll.llama_batch_init(max(n_prompt, 1), 0, 1)
    tok = 100  # any ordinary token: decode cost does not depend on which
    try:
        batch.n_tokens = n_prompt
        for i in range(n_prompt):
            batch.token[i], batch.pos[i], batch.n_seq_id[i] = tok, i, 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = i == n_prompt - 1
        assert ll.llama_decode(ctx, batch) == 0
        batch.n_tokens = 1
        batch.logits[0] = 1
        t0 = time.perf_counter()
        for j in range(n_gen):
            batch.token[0], batch.pos[0] = tok, n_prompt + j
            assert ll.llama_decode(ctx, batch) == 0
            ll.llama_get_logits_ith(ctx, 0)
        return n_gen / (time.perf_counter() - t0)
    finally:
        ll.llama_batch_free(batch)
        ll.llama_free(ctx)


def request(n_tokens: int, text: str = PROMPT) -> ChatRequest:
    return ChatRequest(
        (ChatMessage("user", text),),
        SamplingParams(max_tokens=n_tokens, temperature=0.0, repeat_penalty=1.0),
    )


async def engine_run(engine: LocalEngine, n_tokens: int, text: str = PROMPT) -> Run:
    t0 = time.perf_counter()
    t_first = t_last = 0.0
    n = 0
    async for ev in engine.chat_stream(request(n_tokens, text)):
        if isinstance(ev, TokenDelta):
            t_last = time.perf_counter()
            if not t_first:
                t_first = t_last
        elif isinstance(ev, CompletionDone):
            n = ev.metrics.completion_tokens
    return Run((t_first - t0) * 1000, n, _rate(n, t_first, t_last), time.perf_counter() - t0)


async def api_run(session: object, base_url: str, n_tokens: int, text: str) -> Run:
    body = {
        "model": "bench",
        "messages": [{"role": "user", "content": text}],
        "max_tokens": n_tokens,
        "temperature": 0.0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    t0 = time.perf_counter()
    t_first = t_last = 0.0
    n = 0
    async with session.post(  # type: ignore[attr-defined]
        f"{base_url}/chat/completions",
        json=body,
        headers={"Authorization": f"Bearer {API_KEY}"},
    ) as r:
        assert r.status == 200, await r.text()
        async for raw in r.content:
            if not raw.startswith(b"data: ") or raw.startswith(b"data: [DONE]"):
                continue
            obj = json.loads(raw[6:])
            if obj.get("usage"):
                n = obj["usage"]["completion_tokens"]
            for ch in obj.get("choices", []):
                if ch["delta"].get("content"):
                    t_last = time.perf_counter()
                    if not t_first:
                        t_first = t_last
    return Run((t_first - t0) * 1000, n, _rate(n, t_first, t_last), time.perf_counter() - t0)


def med(xs: list[float]) -> float:
    xs = [x for x in xs if not math.isnan(x)]
    return statistics.median(xs) if xs else float("nan")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--slots", type=int, default=8)
    args = ap.parse_args()
    threads = choose_threads(args.threads)
    model = bundled_model_path()
    assert model is not None, "the bundled SmolLM2 is not installed"
    print(f"model {model.name}, threads {threads}, runs {args.runs}, tokens {args.tokens}")

    engine = LocalEngine(model, n_slots=args.slots, n_ctx=2048, n_threads=threads, name="bench")
    await engine.start()
    info = engine.device_info()
    assert info is not None
    cfg = engine.cfg
    print(f"engine device: {info}")
    print(
        f"same settings for direct and raw: threads {info.n_threads}, n_gpu_layers "
        f"{info.n_gpu_layers}, flash_attn {cfg.flash_attn}, extra buffer types "
        f"{cfg.use_extra_bufts}, n_batch {cfg.n_batch} (engine mode: {info.mode})"
    )
    llm = direct_llama(model, cfg, info.n_threads, info.n_gpu_layers)
    n_prompt = len(llm.tokenize(PROMPT.encode()))  # type: ignore[attr-defined]

    api_server = None
    session = None
    try:
        from aiohttp import ClientSession, ClientTimeout

        from app.api.router import EngineRouter
        from app.api.server import ApiServer

        router = EngineRouter()
        router.register("bench", engine)
        api_server = ApiServer(router, API_KEY)
        await api_server.start()
        session = ClientSession(timeout=ClientTimeout(total=600))
    except ImportError as exc:
        print(f"API not available: {exc}")

    # warm-up: page the weights in, let both settle
    direct_run(llm, 16, prompt("warm"))
    await engine_run(engine, 16, prompt("warm"))
    if api_server is not None:
        await api_run(session, api_server.base_url, 16, prompt("warm-api"))

    direct: list[Run] = []
    ours: list[Run] = []
    api: list[Run] = []
    raws: list[float] = []
    for i in range(args.runs):  # interleaved so machine-load drift hits all four alike
        # the chat template adds ~20 tokens around the prompt: decode at the same depth
        raws.append(raw_decode_tps(llm, cfg, info.n_threads, n_prompt + 20, args.tokens))
        direct.append(direct_run(llm, args.tokens, prompt(f"d{i}")))
        ours.append(await engine_run(engine, args.tokens, prompt(f"e{i}")))
        if api_server is not None:
            api.append(await api_run(session, api_server.base_url, args.tokens, prompt(f"a{i}")))
        line = (
            f"run {i}: direct {direct[-1].tok_s:6.1f} tok/s ttft {direct[-1].ttft_ms:6.1f} ms | "
            f"engine {ours[-1].tok_s:6.1f} tok/s ttft {ours[-1].ttft_ms:6.1f} ms"
        )
        if api:
            line += f" | api {api[-1].tok_s:6.1f} tok/s ttft {api[-1].ttft_ms:6.1f} ms"
        line += f" | raw {raws[-1]:6.1f} tok/s"
        print(line + f" (tokens {direct[-1].tokens}/{ours[-1].tokens})", flush=True)

    d_tps = med([r.tok_s for r in direct])
    o_tps = med([r.tok_s for r in ours])
    ratio = o_tps / d_tps
    ttft_added = med([r.ttft_ms for r in ours]) - med([r.ttft_ms for r in direct])
    api_ratio = med([r.tok_s for r in api]) / d_tps if api else float("nan")

    # concurrency: one request alone vs 8 at once, aggregate tokens / wall time
    singles: list[float] = []
    aggs: list[float] = []
    for j in range(max(2, args.runs // 2)):
        r = await engine_run(engine, args.tokens, prompt(f"s{j}"))
        singles.append(r.tokens / r.wall_s)
        t0 = time.perf_counter()
        rs = await asyncio.gather(
            *(engine_run(engine, args.tokens, prompt(f"c{j}-{k}")) for k in range(8))
        )
        aggs.append(sum(x.tokens for x in rs) / (time.perf_counter() - t0))
        print(f"single {singles[-1]:6.1f} tok/s, 8 concurrent {aggs[-1]:6.1f} tok/s aggregate")
    conc = med(aggs) / med(singles)

    raw = med(raws)
    print(f"raw llama_decode: {', '.join(f'{x:.1f}' for x in raws)} tok/s")
    print(
        f"raw {raw:.1f} tok/s, direct {d_tps:.1f} tok/s, engine {o_tps:.1f} tok/s, "
        f"ttft direct {med([r.ttft_ms for r in direct]):.1f} ms, "
        f"engine {med([r.ttft_ms for r in ours]):.1f} ms"
    )
    if session is not None:
        await session.close()
    if api_server is not None:
        await api_server.stop()
    await engine.stop()
    print(
        f"engine: ratio {ratio:.3f} ttft_ms_added {ttft_added:.1f} "
        f"api_ratio {api_ratio:.3f} concurrency8_ratio {conc:.2f} raw_ratio {o_tps / raw:.3f}"
    )


if __name__ == "__main__":
    os.environ.setdefault("MORPHEUS_HOME", "/tmp/morpheus-bench-home")
    asyncio.run(main())
