"""scripts/build_engine.sh picks the llama.cpp backend from what the machine has.

The GPU tools are stand-in scripts on PATH (this machine has no GPU); the script itself is the
real one, run by bash."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build_engine.sh"


def choose(tmp_path: Path, tools: dict[str, int], **env: str) -> tuple[str, str, str]:
    """Run ``--choose`` with stub tools (name -> exit status); (backend, cmake args, reason)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name, rc in tools.items():
        stub = bin_dir / name
        out = "Darwin" if name == "uname" else ""
        stub.write_text(f"#!/bin/sh\necho {out}\nexit {rc}\n")
        stub.chmod(0o755)
    path = f"{bin_dir}:/usr/bin:/bin"
    base = {"PATH": path, "HOME": str(tmp_path)}
    r = subprocess.run(
        ["bash", str(SCRIPT), "--choose"], capture_output=True, text=True,
        env={**base, **env}, check=False,
    )
    if r.returncode:
        return "", "", r.stderr
    backend, _, args = r.stdout.strip().partition(" ")
    return backend, args, r.stderr


def test_nvcc_without_a_gpu_stays_on_cpu(tmp_path: Path) -> None:
    backend, args, why = choose(tmp_path, {"nvcc": 0, "nvidia-smi": 9})
    assert backend != "cuda" and "-DGGML_CUDA" not in args
    assert "nvcc is installed but no NVIDIA GPU or driver answers" in why


def test_each_toolchain_picks_its_backend(tmp_path: Path) -> None:
    assert choose(tmp_path / "a", {"nvcc": 0, "nvidia-smi": 0})[:2] == ("cuda", "-DGGML_CUDA=on")
    vk = choose(tmp_path / "b", {"nvidia-smi": 0, "glslc": 0, "pkg-config": 0})
    assert vk[0] == "vulkan" and vk[1].startswith("-DGGML_VULKAN=on")
    assert choose(tmp_path / "c", {"hipcc": 0, "rocm-smi": 0})[:2] == ("rocm", "-DGGML_HIP=on")
    assert choose(tmp_path / "d", {"uname": 0})[:2] == ("metal", "-DGGML_METAL=on")


def test_the_choice_can_be_forced_and_bad_values_are_refused(tmp_path: Path) -> None:
    forced = choose(tmp_path, {"nvcc": 0, "nvidia-smi": 0}, MORPHEUS_ENGINE_BACKEND="cpu")
    assert forced[0] == "cpu" and "forced by MORPHEUS_ENGINE_BACKEND" in forced[2]
    vk = choose(tmp_path, {}, MORPHEUS_ENGINE_BACKEND="vulkan", CMAKE_ARGS="-DGGML_NATIVE=off")
    assert vk[0] == "vulkan" and vk[1].startswith("-DGGML_VULKAN=on")
    assert vk[1].endswith(" -DGGML_NATIVE=off")  # the user's own flags come last and win
    bad = choose(tmp_path, {}, MORPHEUS_ENGINE_BACKEND="opencl")
    assert bad[0] == "" and "must be cpu, cuda, vulkan, metal or rocm" in bad[2]


@pytest.mark.skipif(
    bool(shutil.which("nvidia-smi")) or os.path.exists("/dev/dri") or os.uname().sysname != "Linux",
    reason="only meaningful on a Linux machine without a GPU, like CI",
)
def test_this_gpu_less_machine_builds_for_the_cpu() -> None:
    r = subprocess.run(["bash", str(SCRIPT), "--choose"], capture_output=True, text=True,
                       check=True)
    assert r.stdout.split()[0] == "cpu"
    assert "engine backend: cpu (" in r.stderr


def test_old_debian_vulkan_headers_get_the_compat_shim(tmp_path: Path) -> None:
    core = Path("/usr/include/vulkan/vulkan_core.h")
    _, args, _ = choose(tmp_path, {}, MORPHEUS_ENGINE_BACKEND="vulkan")
    old = core.is_file() and "VK_EXT_layer_settings" not in core.read_text(errors="replace")
    shim = SCRIPT.parent / "vulkan_compat.h"
    assert (f"-DCMAKE_CXX_FLAGS=--include={shim}" in args) == old
