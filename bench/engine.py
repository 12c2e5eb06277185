"""Benchmark: our engine (child process, streaming) and our HTTP API vs llama-cpp-python called
directly in-process — same model, prompt, greedy, 128 tokens, same thread count — plus the
aggregate tokens/s of 8 concurrent requests vs one.

Usage: .venv/bin/python bench/engine.py [--runs 5] [--tokens 128] [--threads N]
Last line: ``engine: ratio <x> ttft_ms_added <x> api_ratio <x> concurrency8_ratio <x>``.
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

    from llama_cpp import Llama

    llm = Llama(
        str(model),
        n_ctx=2048,
        n_batch=512,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )
    engine = LocalEngine(model, n_slots=args.slots, n_ctx=2048, n_threads=threads, name="bench")
    await engine.start()
    print(f"engine device: {engine.device_info()}")

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
    for i in range(args.runs):  # interleaved so machine-load drift hits all three alike
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

    print(
        f"direct {d_tps:.1f} tok/s, engine {o_tps:.1f} tok/s, "
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
        f"api_ratio {api_ratio:.3f} concurrency8_ratio {conc:.2f}"
    )


if __name__ == "__main__":
    os.environ.setdefault("MORPHEUS_HOME", "/tmp/morpheus-bench-home")
    asyncio.run(main())
