"""The engine's child process: owns the llama.cpp model and runs continuous batching.

Run as ``python -m app.inference.engine_worker '<json config>'``. Requests arrive as JSON lines on
stdin; token events leave as JSON lines on a private copy of stdout (fd 1 itself is pointed at
stderr so llama.cpp's own prints cannot corrupt the protocol). A crash here (segfault, OOM kill)
takes only this process down; the parent restarts it.

Every decode step puts one token per generating slot plus prompt chunks of newly joined slots into
a single ``llama_batch`` — each slot is its own sequence id with its own sampler — so N users cost
about one forward pass per token instead of N.
"""

from __future__ import annotations

import ctypes
import json
import os
import queue
import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass
from typing import Any, BinaryIO

from app.inference.crash_switch import crash_now, crash_switch
from app.inference.worker_slot import Slot, hold_back

PROFILE = bool(os.environ.get("MORPHEUS_ENGINE_PROFILE"))
_TRIED_GPU = False  # the load being attempted offloads layers (a failure may be the GPU's)
# protocol message kinds (child -> parent)
EV_READY = "ready"
EV_FATAL = "fatal"


@dataclass
class WorkerConfig:
    model_path: str
    n_slots: int = 4
    n_ctx_per_slot: int = 2048
    n_batch: int = 512
    n_threads: int = 0  # 0 = every usable core
    n_gpu_layers: int | None = None  # None = decide automatically
    model_name: str = ""
    # one KV stream per slot: attention then scans only that slot's tokens, not every slot's
    kv_unified: bool = False
    flash_attn: int = -1  # -1 auto, 0 off, 1 on
    # extra buffer types = CPU weight repacking (AMX, AVX512 layouts); the crash-prone fast path
    use_extra_bufts: bool = True


class Worker:
    def __init__(self, cfg: WorkerConfig, out: BinaryIO) -> None:
        import llama_cpp as ll

        from app.inference.chat_template import ChatTemplate
        from app.inference.hardware import choose_threads

        self.ll = ll
        self.cfg = cfg
        self.out = out
        self.inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        ll.llama_backend_init()

        n_threads = choose_threads(cfg.n_threads)
        off = self._choose_offload(cfg)
        ngl = off.n_gpu_layers
        global _TRIED_GPU
        _TRIED_GPU = ngl != 0
        self.crash_if = crash_switch(cfg.use_extra_bufts, cfg.flash_attn, n_threads, ngl)
        mparams = ll.llama_model_default_params()
        mparams.n_gpu_layers = ngl
        if hasattr(mparams, "use_extra_bufts"):
            mparams.use_extra_bufts = cfg.use_extra_bufts
        if self.crash_if == "load":
            crash_now()
        model = ll.llama_model_load_from_file(cfg.model_path.encode(), mparams)
        if not model:
            raise RuntimeError("llama.cpp could not load the model file")
        self.model = model
        self.vocab = ll.llama_model_get_vocab(model)
        self.n_vocab = ll.llama_vocab_n_tokens(self.vocab)

        n_slots = max(1, cfg.n_slots)
        cparams = ll.llama_context_default_params()
        cparams.n_ctx = cfg.n_ctx_per_slot * n_slots
        cparams.n_batch = max(cfg.n_batch, n_slots)
        cparams.n_ubatch = max(cfg.n_batch, n_slots)
        cparams.n_seq_max = n_slots
        cparams.n_threads = n_threads
        cparams.n_threads_batch = n_threads
        cparams.kv_unified = cfg.kv_unified
        cparams.flash_attn_type = cfg.flash_attn
        cparams.no_perf = True
        ctx = ll.llama_init_from_model(model, cparams)
        if not ctx:
            raise RuntimeError("llama.cpp could not create a context (out of memory?)")
        self.ctx = ctx
        self.mem = ll.llama_get_memory(ctx)
        self.n_batch = int(cparams.n_batch)
        self.n_ctx_seq = cfg.n_ctx_per_slot
        self.batch = ll.llama_batch_init(self.n_batch, 0, 1)
        self.free_seqs: deque[int] = deque(range(n_slots))
        # tokens still in the KV cache of each free sequence: a new request that starts with
        # them (the same chat with one more turn, the same system prompt) skips that prefill
        self.cached: dict[int, list[int]] = {i: [] for i in range(n_slots)}
        self.slots: dict[int, Slot] = {}
        self.waiting: deque[dict[str, Any]] = deque()
        self._piece = ctypes.create_string_buffer(256)
        self.prof_decode = 0.0
        self.prof_steps = 0
        self.prof_tokens = 0
        self.prof_t0 = time.perf_counter()
        self.embedder: Any = None  # app.inference.worker_embed.Embedder, on first use

        bos = self._special_text(ll.llama_vocab_bos(self.vocab))
        eos = self._special_text(ll.llama_vocab_eos(self.vocab))
        self.bos_text = bos
        tmpl = self._meta("tokenizer.chat_template")
        self.template = ChatTemplate(tmpl, bos_token=bos, eos_token=eos)
        self.add_bos = bool(ll.llama_vocab_get_add_bos(self.vocab))
        from app.inference.devices import describe

        self.info = {
            "ev": EV_READY,
            "device": off.device,
            "n_gpu_layers": ngl,
            "gpu_reason": off.reason,
            "description": describe(off, int(ll.llama_model_n_layer(model))),
            "backends": list(self.backends),
            "use_extra_bufts": cfg.use_extra_bufts,
            "flash_attn": cfg.flash_attn,
            "n_threads": n_threads,
            "n_slots": n_slots,
            "n_ctx_per_slot": self.n_ctx_seq,
            "model": cfg.model_name or os.path.basename(cfg.model_path),
            "pid": os.getpid(),
        }

    # ---- setup helpers -------------------------------------------------------------------
    def _choose_offload(self, cfg: WorkerConfig) -> Any:
        """llama.cpp's own device list when the binding exposes it, else the vendors' tools."""
        from app.inference.devices import choose_offload, llama_backends_and_gpus
        from app.inference.hardware import probe_gpus

        ll = self.ll
        supports = bool(ll.llama_supports_gpu_offload())
        try:
            listed = llama_backends_and_gpus(ll)
        except (AttributeError, OSError, ValueError):
            listed = None
        if listed is not None:
            self.backends, gpus = listed
        else:
            self.backends, gpus = (), (probe_gpus() if supports else ())
        size = os.path.getsize(cfg.model_path)
        return choose_offload(cfg.n_gpu_layers, size, supports, self.backends, gpus)

    def _meta(self, key: str) -> str | None:
        buf = ctypes.create_string_buffer(1 << 16)
        n = self.ll.llama_model_meta_val_str(self.model, key.encode(), buf, len(buf))
        if n < 0:
            return None
        if n >= len(buf):
            buf = ctypes.create_string_buffer(n + 1)
            self.ll.llama_model_meta_val_str(self.model, key.encode(), buf, len(buf))
        return buf.value.decode("utf-8", errors="replace")

    def _special_text(self, tok: int) -> str:
        if tok < 0:
            return ""
        buf = ctypes.create_string_buffer(256)
        n = self.ll.llama_token_to_piece(self.vocab, tok, buf, len(buf), 0, True)
        return buf.raw[: max(n, 0)].decode("utf-8", errors="replace")

    def tokenize(self, text: str, add_special: bool) -> list[int]:
        data = text.encode("utf-8")
        n_max = len(data) + 8
        arr = (self.ll.llama_token * n_max)()
        n = self.ll.llama_tokenize(self.vocab, data, len(data), arr, n_max, add_special, True)
        if n < 0:
            arr = (self.ll.llama_token * -n)()
            n = self.ll.llama_tokenize(self.vocab, data, len(data), arr, -n, add_special, True)
        return list(arr[:n])

    def _make_sampler(self, req: dict[str, Any]) -> Any:
        ll = self.ll
        chain = ll.llama_sampler_chain_init(ll.llama_sampler_chain_default_params())
        rp = float(req.get("repeat_penalty", 1.0))
        fp = float(req.get("frequency_penalty", 0.0))
        pp = float(req.get("presence_penalty", 0.0))
        if rp != 1.0 or fp != 0.0 or pp != 0.0:
            ll.llama_sampler_chain_add(
                chain, ll.llama_sampler_init_penalties(self.n_vocab, 64, rp, fp, pp)
            )
        grammar = req.get("grammar")
        if grammar:  # e.g. JSON mode: only tokens the grammar allows can be sampled
            g = ll.llama_sampler_init_grammar(self.vocab, str(grammar).encode(), b"root")
            if not g:
                raise ValueError("the grammar could not be parsed")
            ll.llama_sampler_chain_add(chain, g)
        temp = float(req.get("temperature", 0.0))
        if temp <= 0.0:
            ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_greedy())
        else:
            top_k = int(req.get("top_k", 40))
            if top_k > 0:
                ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_top_k(top_k))
            top_p = float(req.get("top_p", 1.0))
            if top_p < 1.0:
                ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_top_p(top_p, 1))
            ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_temp(temp))
            seed = req.get("seed")
            ll.llama_sampler_chain_add(
                chain, ll.llama_sampler_init_dist(0xFFFFFFFF if seed is None else int(seed))
            )
        return chain

    # ---- protocol --------------------------------------------------------------------------
    def send(self, lines: list[dict[str, Any]]) -> None:
        if lines:
            self.out.write(
                b"".join(json.dumps(m, separators=(",", ":")).encode() + b"\n" for m in lines)
            )

    def _read_stdin(self) -> None:
        for raw in sys.stdin.buffer:
            try:
                self.inbox.put(json.loads(raw))
            except ValueError:
                continue
        self.inbox.put(None)  # parent went away

    # ---- requests --------------------------------------------------------------------------
    def _admit(self, req: dict[str, Any], out: list[dict[str, Any]]) -> None:
        rid = int(req["i"])
        try:
            prompt_text = self.template.render(req["messages"])
        except Exception as exc:  # a template error must not kill the engine
            out.append({"i": rid, "err": "template", "msg": str(exc)})
            return
        add_special = self.add_bos and not (self.bos_text and prompt_text.startswith(self.bos_text))
        tokens = self.tokenize(prompt_text, add_special)
        if len(tokens) >= self.n_ctx_seq:
            out.append(
                {"i": rid, "err": "overflow", "n_prompt": len(tokens), "n_ctx": self.n_ctx_seq}
            )
            return
        seq, reuse = self._pick_seq(tokens)
        self.free_seqs.remove(seq)
        if not self.ll.llama_memory_seq_rm(self.mem, seq, reuse, -1):
            self.ll.llama_memory_seq_rm(self.mem, seq, -1, -1)
            reuse = 0
        self.cached[seq] = []
        self.slots[rid] = Slot(
            rid=rid,
            seq=seq,
            sampler=self._make_sampler(req),
            prompt=tokens,
            max_tokens=max(1, int(req.get("max_tokens", 256))),
            stops=tuple(s for s in req.get("stop", ()) if s),
            t_recv=float(req.get("_t", time.perf_counter())),
            n_prefilled=reuse,
            n_reused=reuse,
        )

    def _pick_seq(self, tokens: list[int]) -> tuple[int, int]:
        """The free sequence whose cached tokens share the longest prefix with ``tokens``, and
        how many can be kept (at least the last prompt token is decoded again for its logits)."""
        best, best_n = self.free_seqs[0], 0
        for seq in self.free_seqs:
            cached = self.cached[seq]
            n = 0
            for a, b in zip(cached, tokens, strict=False):
                if a != b:
                    break
                n += 1
            if n > best_n:
                best, best_n = seq, n
        return best, min(best_n, len(tokens) - 1)

    def _release(self, s: Slot, *, keep_cache: bool = True) -> None:
        self.slots.pop(s.rid, None)
        if keep_cache:
            self.cached[s.seq] = s.prompt[: s.n_prefilled] + s.fed
        else:
            self.ll.llama_memory_seq_rm(self.mem, s.seq, -1, -1)
            self.cached[s.seq] = []
        self.ll.llama_sampler_free(s.sampler)
        self.free_seqs.append(s.seq)

    def _finish(self, s: Slot, reason: str, out: list[dict[str, Any]]) -> None:
        tail = s.held + s.decoder.decode(b"", final=True) if reason != "stop_string" else ""
        if tail and reason != "cancelled":
            out.append({"i": s.rid, "t": tail})
        now = time.perf_counter()
        out.append(
            {
                "i": s.rid,
                "done": {
                    "prompt_tokens": len(s.prompt),
                    "cached_tokens": s.n_reused,
                    "completion_tokens": s.n_gen,
                    "finish": "stop" if reason == "stop_string" else reason,
                    "gen_s": (now - s.t_first) if s.t_first else 0.0,
                    "total_s": now - s.t_recv,
                },
            }
        )
        self._release(s)

    def _handle(self, msg: dict[str, Any], out: list[dict[str, Any]]) -> bool:
        op = msg.get("op")
        if op == "gen":
            msg["_t"] = time.perf_counter()
            self.waiting.append(msg)
        elif op == "cancel":
            rid = int(msg["i"])
            slot = self.slots.get(rid)
            if slot is not None:
                self._finish(slot, "cancelled", out)
            else:
                for w in list(self.waiting):
                    if int(w["i"]) == rid:
                        self.waiting.remove(w)
                        out.append(
                            {
                                "i": rid,
                                "done": {
                                    "prompt_tokens": 0,
                                    "completion_tokens": 0,
                                    "finish": "cancelled",
                                    "gen_s": 0.0,
                                    "total_s": 0.0,
                                },
                            }
                        )
        elif op == "embed":
            out.append(self._embed(msg))
        elif op == "quit":
            return False
        return True

    def _embed(self, msg: dict[str, Any]) -> dict[str, Any]:
        from app.inference.worker_embed import Embedder

        rid = int(msg["i"])
        try:
            if self.embedder is None:
                self.embedder = Embedder(self.ll, self.model, int(self.info["n_threads"]))
            vectors, n = self.embedder.embed(
                [str(t) for t in msg.get("texts", [])], lambda t: self.tokenize(t, self.add_bos)
            )
        except Exception as exc:  # one bad request must not end the others
            return {"i": rid, "err": "embed", "msg": str(exc)}
        return {"i": rid, "emb": vectors, "n": n}

    # ---- the loop ----------------------------------------------------------------------------
    def run(self) -> None:
        threading.Thread(target=self._read_stdin, daemon=True, name="stdin").start()
        self.send([self.info])
        out: list[dict[str, Any]] = []
        while True:
            block = not self.slots and not self.waiting
            try:
                msg = self.inbox.get(block=block)
                while True:
                    if msg is None or not self._handle(msg, out):
                        return
                    msg = self.inbox.get_nowait()
            except queue.Empty:
                pass
            while self.waiting and self.free_seqs:
                req = self.waiting.popleft()
                try:
                    self._admit(req, out)
                except Exception as exc:  # one bad request must not end the others
                    out.append({"i": int(req["i"]), "err": "admit", "msg": repr(exc)})
            if self.slots:
                self._step(out)
            self.send(out)
            out.clear()

    def _step(self, out: list[dict[str, Any]]) -> None:
        ll = self.ll
        b = self.batch
        n = 0
        for s in self.slots.values():
            if s.prefilling:
                continue
            b.token[n] = s.next_token
            s.fed.append(s.next_token)
            b.pos[n] = s.pos
            b.n_seq_id[n] = 1
            b.seq_id[n][0] = s.seq
            b.logits[n] = 1
            s.i_batch = n
            s.pos += 1
            n += 1
        for s in self.slots.values():
            if not s.prefilling or n >= self.n_batch:
                continue
            take = min(len(s.prompt) - s.n_prefilled, self.n_batch - n)
            start = s.n_prefilled
            for j in range(start, start + take):
                b.token[n] = s.prompt[j]
                b.pos[n] = j
                b.n_seq_id[n] = 1
                b.seq_id[n][0] = s.seq
                b.logits[n] = 0
                n += 1
            s.n_prefilled += take
            if not s.prefilling:
                b.logits[n - 1] = 1
                s.i_batch = n - 1
                s.pos = len(s.prompt)
        b.n_tokens = n
        if self.crash_if:
            crash_now()
        t0 = time.perf_counter()
        rc = ll.llama_decode(self.ctx, b)
        if PROFILE:
            self.prof_decode += time.perf_counter() - t0
            self.prof_steps += 1
            self.prof_tokens += n
        if rc != 0:
            for s in list(self.slots.values()):
                if s.i_batch >= 0 or s.n_prefilled:
                    out.append({"i": s.rid, "err": "decode", "msg": f"llama_decode returned {rc}"})
                    self._release(s, keep_cache=False)
            return
        for s in list(self.slots.values()):
            if s.i_batch < 0:
                continue
            tok = ll.llama_sampler_sample(s.sampler, self.ctx, s.i_batch)
            s.i_batch = -1
            if s.n_gen == 0:
                s.t_first = time.perf_counter()
            if ll.llama_vocab_is_eog(self.vocab, tok):
                self._finish(s, "stop", out)
                continue
            s.n_gen += 1
            nb = ll.llama_token_to_piece(self.vocab, tok, self._piece, 256, 0, False)
            text = s.decoder.decode(self._piece.raw[: max(nb, 0)])
            if text:
                buf = s.held + text
                if s.stops:
                    cut = min((i for i in (buf.find(x) for x in s.stops) if i >= 0), default=-1)
                    if cut >= 0:
                        if cut:
                            out.append({"i": s.rid, "t": buf[:cut]})
                        s.held = ""
                        self._finish(s, "stop_string", out)
                        continue
                    keep = hold_back(buf, s.stops)
                else:
                    keep = 0
                emit = buf[: len(buf) - keep]
                s.held = buf[len(buf) - keep :]
                if emit:
                    out.append({"i": s.rid, "t": emit})
            if s.n_gen >= s.max_tokens or s.pos + 1 >= self.n_ctx_seq:
                self._finish(s, "length", out)
                continue
            s.next_token = tok


def main(argv: list[str]) -> int:
    cfg = WorkerConfig(**json.loads(argv[1]))
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # llama.cpp prints go to stderr, never into the protocol stream
    try:
        worker = Worker(cfg, out)
    except Exception as exc:
        fatal = {"ev": EV_FATAL, "kind": "load", "msg": str(exc), "gpu": _TRIED_GPU}
        out.write(json.dumps(fatal).encode() + b"\n")
        return 3
    try:
        worker.run()
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(70)
    if PROFILE:
        busy = time.perf_counter() - worker.prof_t0
        print(
            f"profile: decode {worker.prof_decode:.2f}s of {busy:.2f}s, "
            f"{worker.prof_steps} steps, {worker.prof_tokens} batch tokens",
            file=sys.stderr,
        )
    # skip interpreter teardown: the stdin reader thread may still hold its lock
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
