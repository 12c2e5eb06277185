"""GPU discovery from each vendor's tool and the one-line description the user reads.

This machine has no GPU, so the tools' outputs here are recorded ones (the formats the tools
print); the llama.cpp device list is read for real from the installed (CPU) build."""

from __future__ import annotations

import json

import llama_cpp
import pytest

from app.inference.devices import (
    GpuInfo,
    choose_offload,
    describe,
    llama_backends_and_gpus,
    parse_nvidia_smi,
    parse_rocm_smi,
    parse_system_profiler,
    parse_vulkaninfo,
    probe_tool_gpus,
)
from app.inference.hardware import HardwareInfo, estimate_fit

GB = 2**30

NVIDIA_SMI = "NVIDIA GeForce RTX 4070, 12282, 11610\nNVIDIA GeForce RTX 3060, 12288, 3000\n"
ROCM_SMI = json.dumps({
    "card0": {"Card Series": "Radeon RX 7900 XTX", "VRAM Total Memory (B)": "25753026560",
              "VRAM Total Used Memory (B)": "1073741824"},
    "system": {"Driver version": "6.7.0"},
})
VULKANINFO = """==========
VULKANINFO
==========

Devices:
========
GPU0:
\tapiVersion         = 1.3.255
\tdriverVersion      = 23.3.1
\tvendorID           = 0x8086
\tdeviceID           = 0x56a0
\tdeviceType         = PHYSICAL_DEVICE_TYPE_DISCRETE_GPU
\tdeviceName         = Intel(R) Arc(tm) A770 Graphics (DG2)
\tdriverID           = DRIVER_ID_INTEL_OPEN_SOURCE_MESA
GPU1:
\tapiVersion         = 1.3.255
\tdeviceType         = PHYSICAL_DEVICE_TYPE_CPU
\tdeviceName         = llvmpipe (LLVM 15.0.6, 256 bits)
"""
SYSTEM_PROFILER = json.dumps({"SPDisplaysDataType": [
    {"_name": "Apple M2 Pro", "sppci_model": "Apple M2 Pro", "sppci_cores": "19"}]})


def test_each_vendor_tool_is_understood() -> None:
    rtx, r3060 = parse_nvidia_smi(NVIDIA_SMI)
    assert rtx == GpuInfo("NVIDIA GeForce RTX 4070", 12282 << 20, 11610 << 20, "CUDA")
    assert r3060.vram_free == 3000 << 20
    (amd,) = parse_rocm_smi(ROCM_SMI)
    assert amd.name == "Radeon RX 7900 XTX" and amd.vram_total == 25753026560
    assert amd.vram_free == 25753026560 - GB and amd.backend == "ROCm"
    (arc,) = parse_vulkaninfo(VULKANINFO)  # the software rasterizer is not a GPU
    assert arc.name.startswith("Intel(R) Arc") and arc.backend == "Vulkan"
    (m2,) = parse_system_profiler(SYSTEM_PROFILER, ram_total=32 * GB)
    assert m2.name == "Apple M2 Pro" and m2.vram_total == 24 * GB
    assert parse_nvidia_smi("garbage") == [] and parse_rocm_smi("not json") == []


def test_probe_asks_the_tools_in_order() -> None:
    asked: list[str] = []

    def run(cmd: list[str]) -> str | None:
        asked.append(cmd[0])
        return VULKANINFO if cmd[0] == "vulkaninfo" else None  # only Vulkan drivers here

    (gpu,) = probe_tool_gpus(run)
    assert gpu.backend == "Vulkan"
    assert asked[0] == "nvidia-smi" and asked[-1] == "vulkaninfo"
    assert probe_tool_gpus(lambda cmd: None) == ()


def test_offload_choice_and_its_one_line_description() -> None:
    rtx = parse_nvidia_smi(NVIDIA_SMI)[0]
    off = choose_offload(None, 5 * GB, True, ("CUDA", "CPU"), (rtx,))
    assert off.n_gpu_layers == -1
    assert describe(off, 30) == "NVIDIA GeForce RTX 4070, 12 GB: all 30 layers on the GPU"
    # too little free VRAM: CPU, and the reason says so
    big = choose_offload(None, 20 * GB, True, ("CUDA", "CPU"), (rtx,))
    assert big.n_gpu_layers == 0 and "GB of GPU memory" in describe(big, 30)
    # a Vulkan build on a machine without a Vulkan device
    none = choose_offload(None, GB, False, ("Vulkan", "CPU"), ())
    assert describe(none, 30) == "CPU only: this build has Vulkan but found no GPU"
    cpu_build = choose_offload(None, GB, False, ("CPU",), ())
    assert describe(cpu_build, 30) == "CPU only: no GPU backend in this build"
    part = choose_offload(12, GB, True, ("CUDA", "CPU"), (rtx,))
    assert describe(part, 30) == "NVIDIA GeForce RTX 4070, 12 GB: 12 of 30 layers on the GPU"


def test_fit_uses_vram_when_layers_go_to_the_gpu() -> None:
    rtx = parse_nvidia_smi(NVIDIA_SMI)[0]
    hw = HardwareInfo("cpu", 4, 8, 8, 16 * GB, 2 * GB, (rtx,))
    fit = estimate_fit(7 * GB, GB, hw)  # far more than free RAM, well within free VRAM
    assert fit.verdict == "fits" and fit.device == "GPU"
    # a GPU whose memory is unknown (vulkaninfo) does not count as free VRAM
    arc = parse_vulkaninfo(VULKANINFO)[0]
    hw2 = HardwareInfo("cpu", 4, 8, 8, 16 * GB, 2 * GB, (arc,))
    assert estimate_fit(7 * GB, GB, hw2).verdict == "won't fit"


def test_the_installed_build_lists_its_backends() -> None:
    """Read for real from the loaded llama.cpp: this machine's build is CPU only."""
    llama_cpp.llama_backend_init()
    listed = llama_backends_and_gpus(llama_cpp)
    assert listed is not None
    backends, gpus = listed
    assert "CPU" in backends
    assert gpus == () or all(g.vram_total > 0 for g in gpus)


@pytest.mark.asyncio(loop_scope="session")
async def test_engine_says_where_the_model_runs(engine) -> None:  # type: ignore[no-untyped-def]
    info = engine.device_info()
    assert info is not None
    _, gpus = llama_backends_and_gpus(llama_cpp) or ((), ())
    assert engine.device_summary() == info.summary and info.description in info.summary
    if not gpus:  # this machine: the installed build is CPU only
        assert info.description.startswith("CPU only: ")
        assert info.description.endswith(info.gpu_fallback_reason)
    else:
        assert "on the GPU" in info.description
