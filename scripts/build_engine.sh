#!/usr/bin/env bash
# Chooses which GPU backend llama-cpp-python is built with, and builds it.
#
#   scripts/build_engine.sh --choose          print "<backend> <cmake args>" and why (no build)
#   scripts/build_engine.sh --install VENV    (re)build llama-cpp-python in VENV when the recorded
#                                             backend (VENV/engine-backend) differs from the choice
#   scripts/build_engine.sh --wheel DIR       build a wheel with the chosen backend into DIR
#
# The choice: MORPHEUS_ENGINE_BACKEND=cpu|cuda|vulkan|metal|rocm when set; else Metal on macOS,
# CUDA when nvcc is installed and an NVIDIA driver answers, ROCm/HIP when hipcc is installed and
# an AMD GPU answers, Vulkan when the loader's dev files, glslc and SPIR-V headers are installed
# and a GPU is visible; CPU otherwise. A compiler without a GPU (a CI box with the CUDA toolkit)
# stays on CPU: a CUDA build there takes half an hour and then cannot run.
set -euo pipefail

choose_engine_backend() {
  ENGINE_BACKEND=cpu
  ENGINE_REASON=""
  local forced=${MORPHEUS_ENGINE_BACKEND:-}
  if [ -n "$forced" ]; then
    case "$forced" in
      cpu|cuda|vulkan|metal|rocm) ENGINE_BACKEND=$forced
        ENGINE_REASON="forced by MORPHEUS_ENGINE_BACKEND" ;;
      *) echo "build_engine: MORPHEUS_ENGINE_BACKEND must be cpu, cuda, vulkan, metal or rocm" \
           "(got '$forced')" >&2
         return 2 ;;
    esac
  elif [ "$(uname -s)" = Darwin ]; then
    ENGINE_BACKEND=metal; ENGINE_REASON="macOS: Apple's Metal"
  elif command -v nvcc >/dev/null 2>&1; then
    if nvidia-smi -L >/dev/null 2>&1; then
      ENGINE_BACKEND=cuda; ENGINE_REASON="nvcc is installed and nvidia-smi sees a GPU"
    else
      ENGINE_REASON="nvcc is installed but no NVIDIA GPU or driver answers (nvidia-smi failed)"
    fi
  fi
  if [ -z "$forced" ] && [ "$ENGINE_BACKEND" = cpu ] && command -v hipcc >/dev/null 2>&1; then
    if rocm-smi --showproductname >/dev/null 2>&1 || rocminfo 2>/dev/null | grep -q gfx; then
      ENGINE_BACKEND=rocm; ENGINE_REASON="hipcc is installed and an AMD GPU answers"
    else
      ENGINE_REASON="${ENGINE_REASON:+$ENGINE_REASON; }hipcc is installed but no AMD GPU answers"
    fi
  fi
  if [ -z "$forced" ] && [ "$ENGINE_BACKEND" = cpu ] && [ "$(uname -s)" != Darwin ]; then
    local vk_dev=no
    if pkg-config --exists vulkan 2>/dev/null || [ -f /usr/include/vulkan/vulkan.h ]; then
      vk_dev=yes
    fi
    if [ $vk_dev = yes ] && command -v glslc >/dev/null 2>&1; then
      if [ -n "$(ls /dev/dri/renderD* 2>/dev/null)" ] || nvidia-smi -L >/dev/null 2>&1; then
        ENGINE_BACKEND=vulkan
        ENGINE_REASON="the Vulkan loader, glslc and a GPU are present"
      else
        ENGINE_REASON="${ENGINE_REASON:+$ENGINE_REASON; }Vulkan tools are installed but no GPU is visible (no /dev/dri/renderD*)"
      fi
    fi
  fi
  [ -n "$ENGINE_REASON" ] || ENGINE_REASON="no GPU toolchain found (nvcc, hipcc, or Vulkan with glslc)"
  case "$ENGINE_BACKEND" in
    cpu) ENGINE_CMAKE_ARGS="" ;;
    cuda) ENGINE_CMAKE_ARGS="-DGGML_CUDA=on" ;;
    vulkan) ENGINE_CMAKE_ARGS="-DGGML_VULKAN=on"
      # Debian 12's Vulkan headers (1.3.239) predate VK_EXT_layer_settings, which ggml uses
      local core=/usr/include/vulkan/vulkan_core.h
      if [ -f "$core" ] && ! grep -q VK_EXT_layer_settings "$core"; then
        ENGINE_CMAKE_ARGS="$ENGINE_CMAKE_ARGS -DCMAKE_CXX_FLAGS=--include=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/vulkan_compat.h"
      fi ;;
    metal) ENGINE_CMAKE_ARGS="-DGGML_METAL=on" ;;
    rocm) ENGINE_CMAKE_ARGS="-DGGML_HIP=on" ;;
  esac
  # anything the user passes in CMAKE_ARGS comes last, so it wins
  ENGINE_CMAKE_ARGS="$ENGINE_CMAKE_ARGS${CMAKE_ARGS:+ $CMAKE_ARGS}"
  ENGINE_CMAKE_ARGS=${ENGINE_CMAKE_ARGS# }
}

llama_requirement() {
  # the exact pin from pyproject.toml, so a rebuild never changes the version
  sed -n 's/^ *"\(llama-cpp-python[^"]*\)".*/\1/p' "$(dirname "${BASH_SOURCE[0]}")/../pyproject.toml" | head -n1
}

main() {
  local mode=${1:---choose}
  choose_engine_backend || exit $?
  case "$mode" in
    --choose)
      echo "$ENGINE_BACKEND $ENGINE_CMAKE_ARGS"
      echo "engine backend: $ENGINE_BACKEND ($ENGINE_REASON)" >&2 ;;
    --install)
      local venv=${2:?usage: build_engine.sh --install VENV}
      local recorded=cpu  # venvs from before this script were built for the CPU
      [ -f "$venv/engine-backend" ] && recorded=$(head -n1 "$venv/engine-backend")
      if [ "$recorded" != "$ENGINE_BACKEND" ] \
         && "$venv/bin/python" -c 'import llama_cpp' >/dev/null 2>&1; then
        echo "engine backend: rebuilding llama-cpp-python for $ENGINE_BACKEND (was $recorded)"
        # --no-cache-dir: pip's wheel cache ignores CMAKE_ARGS and would hand back the old build
        CMAKE_ARGS="$ENGINE_CMAKE_ARGS" "$venv/bin/python" -m pip install -q --no-deps \
          --force-reinstall --no-binary llama-cpp-python --no-cache-dir "$(llama_requirement)"
      fi
      printf '%s\n%s\n%s\n' "$ENGINE_BACKEND" "$ENGINE_REASON" "$ENGINE_CMAKE_ARGS" \
        > "$venv/engine-backend" ;;
    --wheel)
      local dir=${2:?usage: build_engine.sh --wheel DIR}
      echo "engine backend: $ENGINE_BACKEND ($ENGINE_REASON)"
      CMAKE_ARGS="$ENGINE_CMAKE_ARGS" "${PYTHON:-python3}" -m pip wheel --no-deps --no-cache-dir \
        -w "$dir" "$(llama_requirement)" ;;
    *) echo "usage: build_engine.sh [--choose | --install VENV | --wheel DIR]" >&2; exit 2 ;;
  esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  main "$@"
fi
