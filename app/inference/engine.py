"""``LocalEngine``: the parent side of the llama.cpp child process.

Keeps llama.cpp out of the GUI process (a crash or OOM kill costs the in-flight answers, never the
window), streams tokens back as JSON lines the moment the child decodes them, queues requests
fairly when every slot is busy (FIFO per client, round robin across clients), and restarts the
child after a crash. A crash while loading or in the first decodes moves the engine down the
fallback ladder (``ladder.py``) to safer settings; requests that had no token yet are retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import sys
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from app.inference.embedding import Embeddings, embed_with
from app.inference.engine_request import EngineRequest as _Req
from app.inference.engine_worker import EV_FATAL, EV_READY, WorkerConfig
from app.inference.gguf_meta import read_gguf
from app.inference.hardware import estimate_fit, probe, usable_cores
from app.inference.ladder import Ladder, ProfileStore, default_store, exit_reason, is_crash
from app.inference.types import (
    ChatRequest,
    CompletionDone,
    CompletionMetrics,
    ContextOverflow,
    DeviceInfo,
    EngineCrashed,
    InferenceError,
    ModelLoadError,
    StreamEvent,
    TokenDelta,
)

log = logging.getLogger(__name__)
_LINE_LIMIT = 16 * 1024 * 1024


class LocalEngine:
    """A ``ChatEngine`` running a GGUF model in a supervised child process."""

    def __init__(
        self,
        model_path: Path | str,
        *,
        n_slots: int = 4,
        n_ctx: int = 2048,
        n_batch: int = 512,
        n_threads: int = 0,
        n_gpu_layers: int | None = None,
        name: str | None = None,
        load_timeout_s: float = 300.0,
        profile_store: ProfileStore | bool | None = True,
        cpuinfo: str | None = None,
    ) -> None:
        """``profile_store``: where working settings are remembered (True: the data dir,
        False: nowhere); ``cpuinfo``: a /proc/cpuinfo text to plan for (tests)."""
        self.model_path = Path(model_path)
        self.name = name or self.model_path.name.removesuffix(".gguf")
        self.n_slots = max(1, n_slots)
        base = WorkerConfig(
            model_path=str(self.model_path),
            n_slots=self.n_slots,
            n_ctx_per_slot=n_ctx,
            n_batch=n_batch,
            n_threads=n_threads,
            n_gpu_layers=n_gpu_layers,
            model_name=self.name,
        )
        store = default_store() if profile_store is True else profile_store or None
        self.ladder = Ladder(base, store, usable_cores(), cpuinfo)
        self.load_timeout_s = load_timeout_s
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._stderr_task: asyncio.Task[None] | None = None
        self._stderr_tail: deque[str] = deque(maxlen=40)
        self._device: DeviceInfo | None = None
        self._start_lock = asyncio.Lock()
        self._ids = itertools.count(1)
        self._inflight: dict[int, _Req] = {}
        self._waiting: dict[str, deque[_Req]] = {}
        self._served: dict[str, int] = {}  # client -> tick of its last dispatch
        self._tick = itertools.count()
        self._stopping = False
        self._proven = False  # the current child finished an answer: past the crash-prone start
        self._tokens_seen = 0
        self.restarts = 0

    @property
    def cfg(self) -> WorkerConfig:
        """The settings of the current ladder rung."""
        return self.ladder.config()

    # ---- lifecycle -----------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.returncode is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    def device_info(self) -> DeviceInfo | None:
        return self._device

    def device_summary(self) -> str:
        """Where the model runs, in one line for the Share page and the chat ("" before start)."""
        return self._device.summary if self._device is not None else ""

    async def __aenter__(self) -> LocalEngine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _preflight(self) -> None:
        if self.model_path.name.endswith(".part"):
            raise ModelLoadError("This model has not finished downloading yet.")
        info = read_gguf(self.model_path)  # InvalidModelFile says what is wrong with it
        hw = probe()
        self.ladder.plan(self.model_path, tuple(g.name for g in hw.gpus))
        fit = estimate_fit(
            info.file_size, info.kv_cache_bytes(self.cfg.n_ctx_per_slot * self.n_slots), hw
        )
        if fit.verdict == "won't fit":
            raise ModelLoadError(
                f"{self.name} is too large for this computer's memory: {fit.reason}. "
                "Choose a smaller model or a smaller context.",
            )

    async def start(self) -> None:
        """Start the child and wait until the model is loaded (no-op when already running).

        A crash while loading moves down the ladder and tries again; when no rung is left the
        model is marked as unable to run here (remembered, so no crash loop)."""
        async with self._start_lock:
            if self.running:
                return
            if self.ladder.unusable:
                raise ModelLoadError(self.ladder.unusable)
            self._stopping = False
            await asyncio.get_running_loop().run_in_executor(None, self._preflight)
            while True:
                if self.ladder.unusable:
                    raise ModelLoadError(self.ladder.unusable)
                proc, msg = await self._spawn()
                if msg.get("ev") == EV_READY:
                    break
                rc, detail = proc.returncode, msg.get("msg") or "\n".join(self._stderr_tail)
                gpu_failed = msg.get("ev") == EV_FATAL and bool(msg.get("gpu"))
                if is_crash(rc) or gpu_failed:
                    log.warning("engine failed while loading on rung %s%s", self.ladder.mode,
                                exit_reason(rc))
                    self.restarts += 1
                    if self.ladder.step_down(True, self.name, detail, gpu_failed):
                        continue
                    raise ModelLoadError(self.ladder.unusable, detail=detail)
                if msg.get("ev") == EV_FATAL:
                    raise ModelLoadError(
                        f"{self.name} could not be loaded. The file may be damaged or made for a "
                        "newer version of llama.cpp.",
                        detail=detail,
                    )
                raise ModelLoadError(
                    f"The engine stopped while loading {self.name}{exit_reason(rc)}.",
                    detail=detail,
                )
            self._device = DeviceInfo.from_ready(msg, self.ladder.mode, self.ladder.message)
            self._proc = proc
            self._proven = False
            self._tokens_seen = 0
            self._reader = asyncio.create_task(self._read_events(proc))
            log.info(
                "engine ready: %s on %s (%s)%s",
                self.name,
                self._device.device,
                self._device.description,
                f"; {self.ladder.message}" if self.ladder.message else "",
            )
            self._dispatch()

    async def _spawn(self) -> tuple[asyncio.subprocess.Process, dict[str, Any]]:
        """Start a child on the current rung; its first message (or {} when it died first)."""
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        env.update(self.ladder.child_env())  # the last rung hides the GPUs from llama.cpp
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "app.inference.engine_worker",
            json.dumps(asdict(self.cfg)),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=_LINE_LIMIT,
            cwd=str(Path(__file__).resolve().parents[2]),
            env=env,
        )
        self._stderr_tail.clear()
        self._stderr_task = asyncio.create_task(self._drain_stderr(proc))
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), self.load_timeout_s)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise ModelLoadError(f"{self.name} took too long to load.") from None
        msg = json.loads(line) if line.strip() else {}
        if msg.get("ev") != EV_READY:
            await proc.wait()
            if self._stderr_task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._stderr_task, 5)
        return proc, msg

    async def stop(self) -> None:
        self._stopping = True
        proc = self._proc
        if proc is not None and proc.returncode is None:
            try:
                assert proc.stdin is not None
                proc.stdin.write(b'{"op":"quit"}\n')
                proc.stdin.close()
                await asyncio.wait_for(proc.wait(), 5)
            except (TimeoutError, ConnectionError, RuntimeError):
                proc.kill()
                await proc.wait()
        for task in (self._reader, self._stderr_task):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._fail_all("The engine was stopped.", EngineCrashed)
        for q in self._waiting.values():
            for r in q:
                r.events.put_nowait({"crash": "The engine was stopped."})
        self._waiting.clear()
        self._proc = None

    async def _drain_stderr(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        while True:
            line = await proc.stderr.readline()
            if not line:
                return
            text = line.decode("utf-8", errors="replace").rstrip()
            self._stderr_tail.append(text)
            log.debug("engine: %s", text)

    # ---- child events ----------------------------------------------------------------------
    async def _read_events(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        readline = proc.stdout.readline
        inflight = self._inflight
        try:
            while True:
                line = await readline()
                if not line:
                    break
                try:
                    msg = json.loads(line)
                except ValueError:
                    log.warning("engine: unreadable line %r", line[:200])
                    continue
                req = inflight.get(msg.get("i", -1))
                if req is None:
                    continue
                if "t" in msg:
                    req.got_tokens = True
                    self._tokens_seen += 1
                    if self._tokens_seen >= 64:
                        self._proven = True
                else:
                    if msg.get("done", {}).get("completion_tokens"):
                        self._proven = True
                    del inflight[req.rid]
                    self._dispatch()
                if not req.closed:
                    req.events.put_nowait(msg)
        except (ValueError, ConnectionError) as exc:  # e.g. a line over the limit
            log.error("engine protocol failure: %r; restarting the engine", exc)
            if proc.returncode is None:
                proc.kill()
        rc = await proc.wait()
        if self._proc is proc:
            self._proc = None
        if self._stopping:
            return
        self.restarts += 1
        self._after_crash(rc)

    def _after_crash(self, rc: int | None) -> None:
        """Step down the ladder when the child died young; retry requests that had no token yet
        (always while stepping down, once otherwise); fail the rest in plain words."""
        reason = exit_reason(rc)
        early = is_crash(rc) and not self._proven
        detail = "\n".join(self._stderr_tail)
        if early:
            ngl = self._device.n_gpu_layers if self._device is not None else -1
            log.warning("engine crashed early on rung %s%s", self.ladder.mode, reason)
            if not self.ladder.step_down(ngl != 0, self.name, detail):
                self._fail_all(self.ladder.unusable, ModelLoadError, detail=detail)
                for q in self._waiting.values():
                    for r in q:
                        r.events.put_nowait(
                            {"crash": self.ladder.unusable, "detail": detail, "unusable": True}
                        )
                self._waiting.clear()
                return
        retry = [
            r
            for r in self._inflight.values()
            if not r.got_tokens and not r.closed and (early or r.retries < 1)
        ]
        for r in reversed(retry):
            del self._inflight[r.rid]
            r.retries += 1
            r.sent = False
            self._waiting.setdefault(r.client, deque()).appendleft(r)
        log.warning(
            "engine child exited%s; %d request(s) failed, %d retried",
            reason, len(self._inflight), len(retry),
        )
        self._fail_all(
            f"The model engine stopped unexpectedly{reason}. Your message was not finished; "
            "send it again to restart the engine.",
            EngineCrashed,
            detail=detail,
        )
        if any(self._waiting.values()):
            asyncio.get_running_loop().create_task(self._restart_for_waiting())

    async def _restart_for_waiting(self) -> None:
        try:
            await self.start()
        except InferenceError as exc:
            load = isinstance(exc, ModelLoadError)
            for q in self._waiting.values():
                for r in q:
                    r.events.put_nowait({"crash": exc.message, "detail": exc.detail,
                                         "unusable": load})
            self._waiting.clear()

    def _fail_all(self, message: str, kind: type[InferenceError], detail: str = "") -> None:
        unusable = kind is ModelLoadError
        for req in list(self._inflight.values()):
            req.events.put_nowait({"crash": message, "detail": detail, "unusable": unusable})
        self._inflight.clear()

    # ---- queueing ----------------------------------------------------------------------------
    def _dispatch(self) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None or proc.stdin is None:
            return
        while len(self._inflight) < self.n_slots and self._waiting:
            # the waiting client served longest ago goes first; FIFO within a client
            client = min(self._waiting, key=lambda c: self._served.get(c, -1))
            q = self._waiting[client]
            req = q.popleft()
            if not q:
                del self._waiting[client]
            self._served[client] = next(self._tick)
            if len(self._served) > 4096:
                self._served = {c: t for c, t in self._served.items() if c in self._waiting}
            req.sent = True
            self._inflight[req.rid] = req
            proc.stdin.write(json.dumps(req.payload, separators=(",", ":")).encode() + b"\n")

    def _enqueue(self, req: _Req) -> None:
        self._waiting.setdefault(req.client, deque()).append(req)

    def _withdraw(self, req: _Req) -> None:
        req.closed = True
        if req.sent:
            proc = self._proc
            if req.rid in self._inflight and proc is not None and proc.stdin is not None:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    proc.stdin.write(b'{"op":"cancel","i":%d}\n' % req.rid)
            return
        q = self._waiting.get(req.client)
        if q is not None and req in q:
            q.remove(req)
            if not q:
                del self._waiting[req.client]

    @property
    def active(self) -> int:
        """Requests the child is working on (cancelled ones count until it confirms)."""
        return len(self._inflight)

    @property
    def queued(self) -> int:
        return sum(len(q) for q in self._waiting.values())

    # ---- ChatEngine ----------------------------------------------------------------------------
    async def model_names(self) -> list[str]:
        return [self.name]

    async def embed(self, texts: list[str]) -> Embeddings:
        return await embed_with(self, texts)  # app/inference/embedding.py

    async def chat_stream(
        self, request: ChatRequest, *, client: str = ""
    ) -> AsyncIterator[StreamEvent]:
        """Stream the answer; ``client`` groups requests for round-robin fairness (e.g. one
        key per remote consumer)."""
        t_submit = time.perf_counter()
        if not self.running:
            await self.start()
        p = request.params
        rid = next(self._ids)
        payload = {
            "op": "gen",
            "i": rid,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "max_tokens": p.max_tokens,
            "temperature": p.temperature,
            "top_p": p.top_p,
            "top_k": p.top_k,
            "repeat_penalty": p.repeat_penalty,
            "frequency_penalty": p.frequency_penalty,
            "presence_penalty": p.presence_penalty,
            "stop": list(p.stop),
            "seed": p.seed,
        }
        if p.grammar:
            payload["grammar"] = p.grammar
        req = _Req(rid, client, payload, t_submit)
        self._enqueue(req)
        self._dispatch()
        t_first = 0.0
        try:
            while True:
                msg = await req.events.get()
                text = msg.get("t")
                if text is not None:
                    if not t_first:
                        t_first = time.perf_counter()
                    yield TokenDelta(text)
                    continue
                done = msg.get("done")
                if done is not None:
                    req.closed = True
                    n = int(done["completion_tokens"])
                    gen_s = float(done["gen_s"])
                    if n > 1 and gen_s > 0:
                        tps = (n - 1) / gen_s
                    else:
                        tps = n / max(float(done["total_s"]), 1e-9)
                    ttft = ((t_first or time.perf_counter()) - t_submit) * 1000.0
                    yield CompletionDone(
                        CompletionMetrics(
                            prompt_tokens=int(done["prompt_tokens"]),
                            completion_tokens=n,
                            ttft_ms=ttft,
                            tokens_per_s=tps,
                            finish_reason=done["finish"],
                            cached_tokens=int(done.get("cached_tokens", 0)),
                        )
                    )
                    return
                req.closed = True
                if "crash" in msg:
                    kind = ModelLoadError if msg.get("unusable") else EngineCrashed
                    raise kind(msg["crash"], detail=msg.get("detail", ""))
                if msg.get("err") == "overflow":
                    raise ContextOverflow(
                        f"The conversation is too long for this model: it is {msg['n_prompt']} "
                        f"tokens and the model's context holds {msg['n_ctx']}. Start a new chat "
                        "or shorten the message.",
                    )
                raise InferenceError(
                    "The model could not generate an answer.", detail=str(msg.get("msg", msg))
                )
        finally:
            if not req.closed:
                self._withdraw(req)
