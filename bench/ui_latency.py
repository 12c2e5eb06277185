"""GUI responsiveness while a remote answer streams: the longest stall of the Qt event loop, and
the time from "Open session" to the first token on screen.

Everything is real and in one process, as in the app: a devnet (anvil + the contracts), a provider
(another wallet) serving SmolLM2 over MOR-RPC, and the GUI side on the qasync loop: the program's
``AppServices`` for an unlocked wallet, the Chat page streaming the remote answer into its view, the
Activity and Share pages listening to job events, and the consumer's job runner busy with a stream
of background jobs that read the chain. A 5 ms ``QTimer`` records the gap between its ticks; a
stall is the part of a gap beyond the 5 ms period.

Run: ``.venv/bin/python bench/ui_latency.py [--tokens 200] [--answers 3]``. Last line:
``ui_latency: max_stall_ms <x> open_to_first_token_s <y>``. Target: max stall < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import faulthandler
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("MORPHEUS_HOME", tempfile.mkdtemp(prefix="morpheus-bench-ui-"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from app.chain.client import ChainClient
from app.chain.devnet import dev_account, network_file, start_devnet
from app.chain.networks import network_from_dict
from app.chain.tx import TxPolicy
from app.inference.engine import LocalEngine
from app.inference.library import bundled_model_path
from app.inference.types import SamplingParams
from app.paths import app_paths
from app.services.app_services import SERVICES_KEY, AppServices
from app.services.context import AppContext
from app.services.node_identity import WalletNodeKey
from app.services.provider_service import ProviderService
from app.services.runtime import Runtime
from app.services.tasks import Done, TaskRunner
from app.services.wallet_service import WalletService
from app.storage.chats import ChatStore, ModelSettings
from app.storage.jobs import Job, JobStore
from app.storage.sessions import SessionStore
from app.storage.settings import Settings
from app.ui.activity_page import ActivityPage
from app.ui.chat.sources import ChatSource
from app.ui.chat_page import ChatPage
from app.ui.launch import warm_chat_rendering
from app.ui.main_thread_gc import MainThreadCollector
from app.ui.qt_loop import QtEventLoop
from app.ui.share_page import SharePage
from app.wallet.keyring_store import UnlockSecretStore
from app.wallet.signer import LocalSigner

PROVIDER_INDEX = 7
CONSUMER_INDEX = 8
MODEL = "SmolLM2-135M-Instruct"
PRICE = 10**13
TICK_MS = 5
JOB_EVERY_S = 0.2
FAST = TxPolicy(poll_interval=0.05, receipt_timeout=30.0, replace_after=30.0)
PROMPT = "Write a long story about a lighthouse keeper and a storm. Use many details."


class StallMeter:
    """Gaps between ticks of a 5 ms timer: the event loop's longest time without a turn."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)
        self.gaps: list[float] = []
        self._last = 0.0

    def start(self) -> None:
        self.gaps.clear()
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append((now - self._last) * 1000)
        self._last = now

    @property
    def max_stall_ms(self) -> float:
        return max(0.0, max(self.gaps, default=0.0) - TICK_MS)


TIMINGS: dict[str, list[float]] = {}


def timed(fn: Any, name: str) -> Any:
    """Wrap a page method to record how long it holds the GUI thread."""
    def wrapper(*a: Any, **kw: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            TIMINGS.setdefault(name, []).append((time.perf_counter() - t) * 1000)
    return wrapper


async def background_jobs(runner: TaskRunner, chain: ChainClient, stop: asyncio.Event) -> int:
    """Keep the job runner busy the way the app's jobs are: each reads the chain and finishes."""

    async def ping(job: Job, _r: TaskRunner) -> Done:
        held = await chain.user_stakes_on_hold(job.payload["who"])
        return Done({"block": await chain.block_number(), "held": str(held.hold)})

    runner.register("bench.ping", ping)
    n = 0
    while not stop.is_set():
        runner.schedule(f"bench:{n}", "bench.ping", {"who": dev_account(CONSUMER_INDEX).address},
                        title="Background check")
        n += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), JOB_EVERY_S)
    return n


async def run(args: argparse.Namespace) -> tuple[float, float]:
    home = Path(os.environ["MORPHEUS_HOME"])
    devnet = start_devnet(home / "devnet-state")
    engine = LocalEngine(bundled_model_path() or Path("missing"), n_slots=2, n_ctx=2048, name=MODEL)
    await engine.start()
    p_chain = ChainClient(network_from_dict(devnet.network), policy=FAST)
    services: AppServices | None = None
    try:
        await p_chain.connect()
        # The provider: another wallet serving SmolLM2 (headless, as `morpheus provider serve`).
        p_signer = LocalSigner(bytes(dev_account(PROVIDER_INDEX).key))
        p_home = home / "provider"
        p_home.mkdir(parents=True, exist_ok=True)
        provider = ProviderService(
            p_chain, p_signer, WalletNodeKey(p_signer), engine,
            TaskRunner(JobStore(p_home / "jobs.sqlite3")), SessionStore(p_home / "s.sqlite3"),
            model_name=MODEL,
        )
        bid_id = await provider.go_online(PRICE)

        # The GUI side: wallet, settings and services as the program builds them.
        paths = app_paths().ensure()
        nf = network_file()
        nf.parent.mkdir(parents=True, exist_ok=True)
        nf.write_text(json.dumps(devnet.network), encoding="utf-8")
        wallet = WalletService(paths, keystore_scrypt_n=2**10, seal_scrypt_n=2**10,
                               secrets=UnlockSecretStore(paths.wallet, paths.config))
        wallet.import_private_key(bytes(dev_account(CONSUMER_INDEX).key).hex(),
                                  "violet-harbour-engine-47-quiet")
        settings = Settings(network="devnet", provider_port=0)
        ctx = AppContext(paths=paths, settings=settings, wallet=wallet)
        services = AppServices(ctx, runtime=Runtime(paths, settings, network_key="devnet",
                                                    tx_policy=FAST), engine=engine)
        ctx.extras[SERVICES_KEY] = services
        consumer = await services.consumer()  # starts its job runner

        store = ChatStore(home / "chats.sqlite3")
        chat = ChatPage(ctx, sources=[], store=store)
        chat.resize(1000, 800)
        chat.show()
        # The view's markdown render of each streamed batch (completed blocks + open tail).
        chat.view._render_tail = timed(chat.view._render_tail, "chat_render")
        activity = ActivityPage(ctx) if args.pages == "all" else None
        if activity is not None:
            activity.show()
            for name in ("rebuild_jobs", "rebuild_sessions"):
                setattr(activity, name, timed(getattr(activity, name), name))
        share = SharePage(ctx) if args.pages == "all" else None  # listens to events too
        _ = share
        warm_chat_rendering()  # as the launcher does once its first page has painted

        meter = StallMeter()
        stop = asyncio.Event()
        meter.start()
        jobs_task = asyncio.ensure_future(background_jobs(consumer.runner, consumer.chain, stop))
        first_token = asyncio.get_running_loop().create_future()
        chat.view.streamed.connect(
            lambda _t: first_token.done() or first_token.set_result(time.perf_counter())
        )

        # "Open session" → first token on screen.
        t0 = time.perf_counter()
        opened = await consumer.open_session(bid_id, 600)
        label = f"Provider {provider.me[:8]} · {MODEL}"
        store.save_model_settings(MODEL, ModelSettings(
            "", SamplingParams(max_tokens=args.tokens, temperature=0.8)
        ))
        chat.set_sources([ChatSource(label, opened.engine, MODEL)])
        chat.select_source(label)
        task = chat.send(PROMPT)
        assert task is not None
        open_to_first = await first_token - t0
        await task
        for _ in range(args.answers - 1):
            task = chat.send(PROMPT + " Another one, please.")
            assert task is not None
            await task
        chars = sum(len(m.content) for m in chat.messages() if m.role == "assistant")
        stop.set()
        n_jobs = await jobs_task
        await consumer.runner.run_due()
        meter.stop()
        await consumer.close_session(opened.record.session_id)

        gaps = sorted(meter.gaps)
        print(f"streamed {args.answers} answers ({chars} chars) with {n_jobs} background jobs; "
              f"{len(gaps)} ticks")
        print(f"tick gap ms: median {statistics.median(gaps):.1f} "
              f"p99 {gaps[int(len(gaps) * 0.99) - 1]:.1f} max {gaps[-1]:.1f}")
        rows = f"activity page rows: {activity.jobs_table.rowCount()}; " if activity else ""
        print(f"{rows}slowest GUI-thread work: "
              + ", ".join(f"{k} {max(v):.1f} ms" for k, v in TIMINGS.items() if v))
        return meter.max_stall_ms, open_to_first
    finally:
        if services is not None:
            # In a task of its own: awaited inline from the coroutine run_until_complete drives,
            # stopping the services never returned under qasync (seen in this bench).
            await asyncio.wait_for(services.stop(), 60)
        if provider_server := getattr(locals().get("provider"), "server", None):
            await provider_server.stop()
        await p_chain.close()
        await engine.stop()
        devnet.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=200, help="max tokens per answer")
    ap.add_argument("--answers", type=int, default=3, help="answers streamed in a row")
    ap.add_argument("--pages", choices=["all", "chat"], default="all",
                    help="which pages are open while streaming")
    ap.add_argument("--watchdog", type=float, default=600.0,
                    help="seconds before a stuck run dumps its stacks and exits (a busy machine "
                    "generates slowly)")
    args = ap.parse_args()
    faulthandler.dump_traceback_later(args.watchdog, exit=True)
    app = QApplication.instance() or QApplication([])
    collector = MainThreadCollector(app)  # the program's garbage collection (GUI thread only)
    collector.start()
    loop = QtEventLoop(app)  # the program's loop
    asyncio.set_event_loop(loop)
    with loop:
        stall, ttft = loop.run_until_complete(run(args))
    print(f"ui_latency: max_stall_ms {stall:.1f} open_to_first_token_s {ttft:.2f}")


if __name__ == "__main__":
    main()
