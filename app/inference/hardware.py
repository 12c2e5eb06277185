"""What this machine can run: CPU cores, RAM, GPUs with their VRAM, and a plain
"fits / tight / won't fit" verdict per model so nobody downloads 40 GB that cannot load."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from typing import Literal

import psutil

from app.inference.devices import GpuInfo, probe_tool_gpus

Verdict = Literal["fits", "tight", "won't fit"]
_OVERHEAD = 300 * 1024 * 1024  # compute buffers, runtime, the program itself


@dataclass(frozen=True)
class HardwareInfo:
    cpu_model: str
    physical_cores: int
    logical_cores: int
    usable_cores: int
    ram_total: int
    ram_available: int
    gpus: tuple[GpuInfo, ...] = field(default_factory=tuple)

    @property
    def best_gpu(self) -> GpuInfo | None:
        return max(self.gpus, key=lambda g: g.vram_free, default=None)


@dataclass(frozen=True)
class FitEstimate:
    verdict: Verdict
    device: Literal["GPU", "CPU"]
    needed_bytes: int
    available_bytes: int
    reason: str


def usable_cores() -> int:
    """Cores this process may run on (respects taskset/cgroups); llama.cpp's default of half the
    cores measured ~2x slower than all of them on a 2-core machine."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def choose_threads(requested: int = 0) -> int:
    """Threads for llama.cpp: what the user asked for, else every core we may use (llama.cpp's
    own default is half)."""
    return requested if requested > 0 else usable_cores()


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def probe_gpus() -> tuple[GpuInfo, ...]:
    """GPUs as the vendors' tools see them (nvidia-smi, rocm-smi, system_profiler, vulkaninfo);
    the engine itself asks its llama.cpp build, which knows what it can offload to."""
    return probe_tool_gpus(ram_total=psutil.virtual_memory().total)


def probe() -> HardwareInfo:
    vm = psutil.virtual_memory()
    return HardwareInfo(
        cpu_model=_cpu_model(),
        physical_cores=psutil.cpu_count(logical=False) or 1,
        logical_cores=psutil.cpu_count(logical=True) or 1,
        usable_cores=usable_cores(),
        ram_total=vm.total,
        ram_available=vm.available,
        gpus=probe_gpus(),
    )


def estimate_fit(model_bytes: int, kv_bytes: int, hw: HardwareInfo) -> FitEstimate:
    """Weights + KV cache for the chosen context + overhead, against free VRAM first, then RAM."""
    need = model_bytes + kv_bytes + _OVERHEAD
    gpu = hw.best_gpu
    if gpu is not None and not gpu.vram_free:
        gpu = None  # a GPU whose memory the tools could not tell (vulkaninfo --summary)
    if gpu is not None and need <= gpu.vram_free * 0.9:
        return FitEstimate("fits", "GPU", need, gpu.vram_free, f"fits in {gpu.name} memory")
    avail = hw.ram_available
    gpu_note = f" (too big for {gpu.name}'s free memory)" if gpu is not None else ""
    if need <= avail * 0.7:
        return FitEstimate("fits", "CPU", need, avail, "fits in RAM" + gpu_note)
    if need <= avail:
        return FitEstimate(
            "tight", "CPU", need, avail, "just fits in free RAM; close other programs" + gpu_note
        )
    return FitEstimate(
        "won't fit",
        "CPU",
        need,
        avail,
        f"needs {need / 2**30:.1f} GB but only {avail / 2**30:.1f} GB of memory is free",
    )


def gib(n: int) -> str:
    return f"{n / 2**30:.1f} GB"
