"""Hardware probe and the fits / tight / won't-fit verdict."""

from __future__ import annotations

import os

import psutil

from app.inference.hardware import GpuInfo, HardwareInfo, choose_threads, estimate_fit, probe

GB = 2**30


def test_probe_reports_this_machine() -> None:
    hw = probe()
    assert hw.usable_cores == len(os.sched_getaffinity(0))
    assert hw.logical_cores >= hw.usable_cores >= 1
    assert hw.physical_cores >= 1
    assert hw.cpu_model
    assert abs(hw.ram_total - psutil.virtual_memory().total) < GB
    assert 0 < hw.ram_available <= hw.ram_total


def test_default_threads_use_every_usable_core() -> None:
    assert choose_threads() == len(os.sched_getaffinity(0))
    assert choose_threads(3) == 3


def _hw(ram_free: float, gpus: tuple[GpuInfo, ...] = ()) -> HardwareInfo:
    return HardwareInfo("cpu", 4, 8, 8, int(32 * GB), int(ram_free * GB), gpus)


def test_verdicts_on_cpu() -> None:
    assert estimate_fit(1 * GB, 0, _hw(16)).verdict == "fits"
    tight = estimate_fit(int(5.0 * GB), 0, _hw(6))
    assert tight.verdict == "tight" and tight.device == "CPU"
    nope = estimate_fit(40 * GB, 2 * GB, _hw(16))
    assert nope.verdict == "won't fit"
    assert "16.0 GB" in nope.reason


def test_gpu_preferred_when_vram_is_enough() -> None:
    gpu = GpuInfo("RTX 4090", 24 * GB, 22 * GB)
    fit = estimate_fit(8 * GB, 1 * GB, _hw(8, (gpu,)))
    assert fit.verdict == "fits" and fit.device == "GPU"
    too_big = estimate_fit(30 * GB, 1 * GB, _hw(64, (gpu,)))
    assert too_big.device == "CPU" and "RTX 4090" in too_big.reason
