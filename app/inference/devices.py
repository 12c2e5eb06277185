"""Which GPUs this machine has and which of them the engine uses, in words a user reads.

Sources, best first: the loaded llama.cpp build's own device list (ggml backend registry: it
knows exactly what this build can offload to, with free memory), then the vendors' tools
(``nvidia-smi``, ``rocm-smi``, ``vulkaninfo``, macOS ``system_profiler``). The tool parsers take
the tool's text so they can be tested with recorded outputs.
"""

from __future__ import annotations

import ctypes
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

GB = 2**30


@dataclass(frozen=True)
class GpuInfo:
    name: str
    vram_total: int
    vram_free: int
    backend: str = ""  # CUDA, Vulkan, ROCm, Metal (what sees it)


# ---- llama.cpp's own device list ----------------------------------------------------------------
_DEV_TYPE_GPU, _DEV_TYPE_IGPU = 1, 2


def _ggml_lib(ll: Any) -> Any:
    """The ctypes library exporting ggml's backend registry (libggml, else libllama's deps)."""
    candidates = []
    try:
        from llama_cpp import _ggml

        candidates.append(_ggml.libggml)
    except Exception:  # older bindings have no _ggml module
        pass
    candidates.append(getattr(ll, "_lib", None) or getattr(ll.llama_cpp, "_lib", None))
    for lib in candidates:
        if lib is not None and hasattr(lib, "ggml_backend_dev_count"):
            return lib
    return None


def llama_backends_and_gpus(ll: Any) -> tuple[tuple[str, ...], tuple[GpuInfo, ...]] | None:
    """(compiled backends, GPU devices) from ggml's registry; None when the binding hides it."""
    lib = _ggml_lib(ll)
    if lib is None:
        return None
    vp, sz = ctypes.c_void_p, ctypes.c_size_t
    lib.ggml_backend_reg_count.restype = sz
    lib.ggml_backend_reg_get.argtypes = [sz]
    lib.ggml_backend_reg_get.restype = vp
    lib.ggml_backend_reg_name.argtypes = [vp]
    lib.ggml_backend_reg_name.restype = ctypes.c_char_p
    lib.ggml_backend_dev_count.restype = sz
    lib.ggml_backend_dev_get.argtypes = [sz]
    lib.ggml_backend_dev_get.restype = vp
    lib.ggml_backend_dev_type.argtypes = [vp]
    lib.ggml_backend_dev_type.restype = ctypes.c_int
    lib.ggml_backend_dev_description.argtypes = [vp]
    lib.ggml_backend_dev_description.restype = ctypes.c_char_p
    lib.ggml_backend_dev_backend_reg.argtypes = [vp]
    lib.ggml_backend_dev_backend_reg.restype = vp
    lib.ggml_backend_dev_memory.argtypes = [vp, ctypes.POINTER(sz), ctypes.POINTER(sz)]
    backends = tuple(
        (lib.ggml_backend_reg_name(lib.ggml_backend_reg_get(i)) or b"?").decode()
        for i in range(lib.ggml_backend_reg_count())
    )
    gpus = []
    for i in range(lib.ggml_backend_dev_count()):
        dev = lib.ggml_backend_dev_get(i)
        if lib.ggml_backend_dev_type(dev) not in (_DEV_TYPE_GPU, _DEV_TYPE_IGPU):
            continue
        free, total = sz(0), sz(0)
        lib.ggml_backend_dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
        reg = lib.ggml_backend_dev_backend_reg(dev)
        backend = (lib.ggml_backend_reg_name(reg) or b"").decode() if reg else ""
        name = (lib.ggml_backend_dev_description(dev) or b"GPU").decode(errors="replace")
        gpus.append(GpuInfo(name, int(total.value), int(free.value), backend))
    return backends, tuple(gpus)


# ---- the vendors' tools -------------------------------------------------------------------------
def parse_nvidia_smi(out: str) -> list[GpuInfo]:
    """``nvidia-smi --query-gpu=name,memory.total,memory.free --format=csv,noheader,nounits``."""
    gpus = []
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 3:
            continue
        try:
            gpus.append(GpuInfo(parts[0], int(parts[1]) << 20, int(parts[2]) << 20, "CUDA"))
        except ValueError:
            continue
    return gpus


def parse_rocm_smi(out: str) -> list[GpuInfo]:
    """``rocm-smi --showproductname --showmeminfo vram --json``."""
    try:
        data = json.loads(out)
    except ValueError:
        return []
    gpus = []
    for card, info in sorted(data.items()) if isinstance(data, dict) else []:
        if not isinstance(info, dict) or not card.startswith("card"):
            continue
        name = info.get("Card Series") or info.get("Card series") or info.get("Card model") or card
        try:
            total = int(info.get("VRAM Total Memory (B)", 0))
            used = int(info.get("VRAM Total Used Memory (B)", 0))
        except (TypeError, ValueError):
            total = used = 0
        gpus.append(GpuInfo(str(name), total, max(0, total - used), "ROCm"))
    return gpus


def parse_vulkaninfo(out: str) -> list[GpuInfo]:
    """``vulkaninfo --summary``: names of real GPUs (software rasterizers skipped). The summary
    has no memory sizes, so VRAM reads as 0 (unknown)."""
    gpus = []
    for block in re.split(r"\n(?=GPU\d+:)", out):
        name = re.search(r"deviceName\s*=\s*(.+)", block)
        kind = re.search(r"deviceType\s*=\s*(\S+)", block)
        if not name or not kind or kind.group(1).endswith("_CPU"):
            continue
        gpus.append(GpuInfo(name.group(1).strip(), 0, 0, "Vulkan"))
    return gpus


def parse_system_profiler(out: str, ram_total: int) -> list[GpuInfo]:
    """``system_profiler SPDisplaysDataType -json``; Apple silicon shares RAM with the GPU, of
    which Metal lets a process use about three quarters."""
    try:
        items = json.loads(out).get("SPDisplaysDataType", [])
    except (ValueError, AttributeError):
        return []
    gpus = []
    for item in items:
        name = item.get("sppci_model") or item.get("_name") or "GPU"
        vram = 0
        m = re.match(r"(\d+)\s*(GB|MB)", str(item.get("spdisplays_vram") or ""))
        if m:
            vram = int(m.group(1)) << (30 if m.group(2) == "GB" else 20)
        elif "Apple" in name:
            vram = int(ram_total * 0.75)
        gpus.append(GpuInfo(name, vram, vram, "Metal"))
    return gpus


Runner = Callable[[list[str]], str | None]


def _run(cmd: list[str], timeout: float = 5.0) -> str | None:
    exe = shutil.which(cmd[0])
    if not exe:
        return None
    try:
        return subprocess.run(
            [exe, *cmd[1:]], capture_output=True, text=True, timeout=timeout, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def probe_tool_gpus(run: Runner = _run, ram_total: int = 0) -> tuple[GpuInfo, ...]:
    """GPUs as the vendors' tools report them, the first tool that finds any winning."""
    out = run(["nvidia-smi", "--query-gpu=name,memory.total,memory.free",
               "--format=csv,noheader,nounits"])
    if out and (found := parse_nvidia_smi(out)):
        return tuple(found)
    out = run(["rocm-smi", "--showproductname", "--showmeminfo", "vram", "--json"])
    if out and (found := parse_rocm_smi(out)):
        return tuple(found)
    if sys.platform == "darwin":
        out = run(["system_profiler", "SPDisplaysDataType", "-json"])
        if out and (found := parse_system_profiler(out, ram_total)):
            return tuple(found)
    out = run(["vulkaninfo", "--summary"])
    if out and (found := parse_vulkaninfo(out)):
        return tuple(found)
    return ()


# ---- the engine's choice, in words --------------------------------------------------------------
@dataclass(frozen=True)
class Offload:
    n_gpu_layers: int  # -1 all, 0 none
    device: str  # "CPU" or "GPU (<name>)"
    reason: str  # why not on a GPU ("" when it is)
    gpu: GpuInfo | None = None


def choose_offload(
    requested: int | None,
    model_bytes: int,
    supports_offload: bool,
    backends: tuple[str, ...],
    gpus: tuple[GpuInfo, ...],
) -> Offload:
    """All layers on the GPU when this build can offload and the model fits in free VRAM;
    otherwise CPU, with the reason in words for the user."""
    best = max(gpus, key=lambda g: g.vram_free, default=None)
    if requested is not None:
        if requested == 0:
            return Offload(0, "CPU", "set by the user")
        return Offload(requested, f"GPU ({best.name})" if best else "GPU", "", best)
    gpu_backends = [b for b in backends if b not in ("CPU", "BLAS", "RPC", "?")]
    if not supports_offload or best is None:
        if gpu_backends:
            return Offload(0, "CPU", f"this build has {'/'.join(gpu_backends)} but found no GPU")
        if not supports_offload:
            return Offload(0, "CPU", "no GPU backend in this build")
        return Offload(0, "CPU", "no supported GPU was found")
    need = model_bytes * 1.2 + 300 * 2**20
    if best.vram_free and need > best.vram_free:
        return Offload(
            0,
            "CPU",
            f"the model needs about {need / GB:.1f} GB of GPU memory, "
            f"{best.name} has {best.vram_free / GB:.1f} GB free",
        )
    return Offload(-1, f"GPU ({best.name})", "", best)


def describe(off: Offload, n_layers: int) -> str:
    """One line for the Share page and the chat: where the model runs, or why not on a GPU."""
    if off.n_gpu_layers == 0 or (off.gpu is None and off.device == "CPU"):
        return f"CPU only: {off.reason}" if off.reason else "CPU only"
    name = off.gpu.name if off.gpu else off.device
    size = f", {off.gpu.vram_total / GB:.0f} GB" if off.gpu and off.gpu.vram_total else ""
    n = n_layers if off.n_gpu_layers < 0 else min(off.n_gpu_layers, n_layers)
    where = f"all {n_layers} layers" if n >= n_layers else f"{n} of {n_layers} layers"
    return f"{name}{size}: {where} on the GPU"
