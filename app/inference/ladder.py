"""The fallback ladder: safer engine settings to fall back to when llama.cpp crashes.

Some llama.cpp builds crash on some processors (llama-cpp-python 0.3.36 segfaults in
``llama_decode`` on the AMX weight-repack path of Intel Xeons). A crash while loading or in the
first decodes moves the engine one rung down: no extra buffer types (no weight repack), then flash
attention off, then fewer threads, then CPU only. The rung that works is remembered per llama.cpp
build, hardware and model in the data dir, so the next start skips the crashes.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import signal
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from app.inference.engine_worker import WorkerConfig


@dataclass(frozen=True)
class Rung:
    name: str  # also the setting it turns off, as MORPHEUS_ENGINE_CRASH_IF names it
    mode: str  # how the user sees it: "compatibility mode (...)"


RUNGS: tuple[Rung, ...] = (
    Rung("fast", "full speed"),
    Rung("extra_bufts", "compatibility mode (no weight repacking)"),
    Rung("flash_attn", "compatibility mode (no weight repacking, flash attention off)"),
    Rung("threads", "compatibility mode (no weight repacking, flash attention off, fewer threads)"),
    Rung("gpu", "compatibility mode (CPU only, safest settings)"),
)
LAST_RUNG = len(RUNGS) - 1
CRASHED_HERE = "the fast path crashed on this processor"
GPU_FAILED = "the GPU could not load this model"
# Signals a bad code path raises; SIGKILL (out of memory) or a clean exit are not the ladder's.
CRASH_SIGNALS = frozenset(
    {signal.SIGSEGV, signal.SIGILL, signal.SIGBUS, signal.SIGABRT, signal.SIGFPE}
)


# Windows reports faults as NTSTATUS exit codes: access violation, illegal instruction, abort
_WINDOWS_FAULTS = frozenset({0xC0000005, 0xC000001D, 0xC0000409, 3})


def is_crash(returncode: int | None) -> bool:
    if returncode is None:
        return False
    if os.name == "nt":
        return (returncode & 0xFFFFFFFF) in _WINDOWS_FAULTS
    return returncode < 0 and -returncode in CRASH_SIGNALS


def exit_reason(rc: int | None) -> str:
    """How a child process ended, in words appended to a sentence."""
    if rc is None:
        return ""
    if rc == -signal.SIGKILL:
        return " (it was killed — often because the computer ran out of memory)"
    if rc < 0:
        try:
            return f" (signal {signal.Signals(-rc).name})"
        except ValueError:
            return f" (signal {-rc})"
    return f" (exit code {rc})"


def config_for(base: WorkerConfig, rung: int, usable_threads: int) -> WorkerConfig:
    """``base`` with every setting down to ``rung`` turned to its safe value."""
    cfg = base
    if rung >= 1:
        cfg = replace(cfg, use_extra_bufts=False)
    if rung >= 2:
        cfg = replace(cfg, flash_attn=0)
    if rung >= 3:
        threads = cfg.n_threads if cfg.n_threads > 0 else usable_threads
        cfg = replace(cfg, n_threads=max(1, threads // 2))
    if rung >= 4:
        cfg = replace(cfg, n_gpu_layers=0)
    return cfg


def next_rung(base: WorkerConfig, rung: int, usable_threads: int, maybe_gpu: bool) -> int | None:
    """The next rung that changes something for this engine (None: none left). ``maybe_gpu``:
    the crashed run offloaded layers, or crashed before saying whether it did."""
    cur = config_for(base, rung, usable_threads)
    for r in range(rung + 1, len(RUNGS)):
        if r == LAST_RUNG:
            return r if maybe_gpu and cur.n_gpu_layers != 0 else None
        if config_for(base, r, usable_threads) != cur:
            return r
    return None


# ---- what crashes are known before anything runs ------------------------------------------------
def cpu_flags(cpuinfo_text: str) -> frozenset[str]:
    """The feature flags of the first processor in a /proc/cpuinfo text."""
    for line in cpuinfo_text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


@functools.lru_cache(maxsize=1)
def read_cpuinfo() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def has_amx(flags: frozenset[str]) -> bool:
    return bool(flags & {"amx_int8", "amx_tile", "amx_bf16"})


def known_start(flags: frozenset[str], llama_version: str) -> tuple[int, str]:
    """The rung to start on before any crash, and why, for crashes known in advance.

    llama-cpp-python 0.3.x (every release to date, 0.3.36 measured) segfaults in ``llama_decode``
    on the AMX weight-repack path; without extra buffer types it runs."""
    if has_amx(flags) and llama_version.startswith("0.3."):
        return 1, (
            "this processor has AMX, where the fast path of this llama.cpp build "
            f"({llama_version}) crashes"
        )
    return 0, ""


def mode_message(rung: int, reason: str) -> str:
    """The plain sentence shown next to the model ("" at full speed)."""
    if rung <= 0:
        return ""
    return f"Running in {RUNGS[rung].mode}: {reason}."


# ---- the remembered profile ---------------------------------------------------------------------
def llama_build_id() -> str:
    """llama-cpp-python's version plus the size and time of its library: a rebuild with another
    backend (CUDA, Vulkan) is another build."""
    try:
        version = importlib.metadata.version("llama-cpp-python")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    stamp = ""
    spec = importlib.util.find_spec("llama_cpp")
    for loc in (spec.submodule_search_locations or []) if spec else []:
        lib = Path(loc) / "lib"
        with contextlib.suppress(OSError):
            for p in sorted(lib.glob("libllama*")):
                st = p.stat()
                stamp += f"{p.name}:{st.st_size}:{int(st.st_mtime)};"
    return f"{version}|{stamp}"


def llama_version() -> str:
    return llama_build_id().split("|", 1)[0]


def hardware_fingerprint(cpuinfo_text: str, gpu_names: tuple[str, ...]) -> str:
    model = ""
    for line in cpuinfo_text.splitlines():
        if line.lower().startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    flags = " ".join(sorted(cpu_flags(cpuinfo_text)))
    return f"{model}|{flags}|{','.join(sorted(gpu_names))}"


def model_identity(path: Path) -> str:
    try:
        size = path.stat().st_size
    except OSError:
        size = -1
    return f"{path.resolve()}|{size}"


def profile_key(build: str, hardware: str, model: str) -> str:
    return hashlib.sha256(f"{build}\n{hardware}\n{model}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Profile:
    rung: int  # -1: nothing worked, this model cannot run here
    reason: str


class ProfileStore:
    """JSON file of ``key -> {rung, reason, updated}``; a damaged file counts as empty."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> Profile | None:
        entry = self._read().get(key)
        if not isinstance(entry, dict):
            return None
        try:
            return Profile(int(entry["rung"]), str(entry.get("reason", "")))
        except (KeyError, TypeError, ValueError):
            return None

    def put(self, key: str, profile: Profile, note: str = "") -> None:
        data = self._read()
        data[key] = {
            "rung": profile.rung,
            "mode": RUNGS[profile.rung].name if profile.rung >= 0 else "none",
            "reason": profile.reason,
            "what": note,
            "updated": int(time.time()),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)


def default_store() -> ProfileStore:
    from app.paths import app_paths

    return ProfileStore(app_paths().data / "engine_profiles.json")


class Ladder:
    """One engine's place on the ladder: where it starts, where a crash moves it, and the
    profile file that remembers it."""

    def __init__(
        self,
        base: WorkerConfig,
        store: ProfileStore | None,
        usable_threads: int,
        cpuinfo: str | None = None,
    ) -> None:
        self.base = base
        self.store = store
        self.usable_threads = usable_threads
        self.cpuinfo = cpuinfo
        self.rung = 0
        self.reason = ""
        self.key = ""
        self.unusable = ""  # set when every rung crashed: the message to show
        self.planned = False

    def plan(self, model_path: Path, gpu_names: tuple[str, ...]) -> None:
        """Choose the starting rung: the remembered profile, else a known crash, else fast."""
        if self.planned:
            return
        cpuinfo = self.cpuinfo if self.cpuinfo is not None else read_cpuinfo()
        build = llama_build_id()
        self.key = profile_key(
            build, hardware_fingerprint(cpuinfo, gpu_names), model_identity(model_path)
        )
        remembered = self.store.get(self.key) if self.store is not None else None
        if remembered is not None and remembered.rung < 0:
            self.unusable = remembered.reason
        elif remembered is not None and remembered.rung <= LAST_RUNG:
            self.rung, self.reason = remembered.rung, remembered.reason
        else:
            self.rung, self.reason = known_start(cpu_flags(cpuinfo), build.split("|", 1)[0])
        self.planned = True

    def config(self) -> WorkerConfig:
        return config_for(self.base, self.rung, self.usable_threads)

    @property
    def mode(self) -> str:
        return RUNGS[self.rung].name

    @property
    def message(self) -> str:
        return mode_message(self.rung, self.reason)

    def child_env(self) -> dict[str, str]:
        """Environment for the child: on the last rung every GPU is hidden, so a broken driver
        that crashes llama.cpp's GPU backend at start-up cannot take the CPU engine down too."""
        if self.rung < LAST_RUNG:
            return {}
        hidden = ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES",
                  "GGML_VK_VISIBLE_DEVICES")
        return dict.fromkeys(hidden, "")

    def step_down(
        self, maybe_gpu: bool, model_name: str, detail: str = "", gpu_failed: bool = False
    ) -> bool:
        """Move past a crash (``gpu_failed``: straight to CPU only, the GPU could not load the
        model); False, and the model marked unusable here, when no rung is left."""
        if gpu_failed:
            nxt: int | None = LAST_RUNG if self.rung < LAST_RUNG else None
        else:
            nxt = next_rung(self.base, self.rung, self.usable_threads, maybe_gpu)
        if nxt is None:
            self.unusable = (
                f"{model_name} cannot run on this computer: the engine crashed in every mode "
                "it can use here, down to the safest settings. Try another model, or update "
                "the program."
            )
            self._save(Profile(-1, self.unusable), detail)
            return False
        why = GPU_FAILED if gpu_failed else CRASHED_HERE
        self.rung, self.reason = nxt, why
        self._save(Profile(nxt, why), detail)
        return True

    def _save(self, profile: Profile, detail: str) -> None:
        if self.store is None or not self.key:
            return
        with contextlib.suppress(OSError):
            self.store.put(self.key, profile, note=detail[-500:])
