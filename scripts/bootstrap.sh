#!/usr/bin/env bash
# Brings a fresh Debian machine (or this checkout) to the point where the program and its tests run.
# Idempotent: every step is skipped when its stamp is newer than its inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3}
VENV="$ROOT/.venv"

need_apt=()
have_pkg() { dpkg -s "$1" >/dev/null 2>&1; }
if command -v dpkg >/dev/null 2>&1; then
  "$PY" -c 'import ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
  command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
  # Shared libraries Qt needs even offscreen, those of its X11 (xcb) plugin for a real screen
  # (read off `ldd libqxcb.so`; a missing one aborts the window), plus a compiler for
  # llama-cpp-python when no wheel fits.
  for p in libgl1 libegl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0 \
    libxkbcommon-x11-0 libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 \
    libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-sync1 libxcb-xfixes0 libxcb-xinerama0 \
    libxcb-xkb1 build-essential cmake; do
    have_pkg "$p" || need_apt+=("$p")
  done
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "bootstrap: installing system packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating virtual environment"
  "$PY" -m venv "$VENV"
fi
# The llama.cpp backend (CUDA, Vulkan, Metal, ROCm or CPU) this machine can use: see
# scripts/build_engine.sh; MORPHEUS_ENGINE_BACKEND=cpu|cuda|vulkan|metal|rocm forces it.
# shellcheck source=build_engine.sh
source scripts/build_engine.sh
choose_engine_backend
echo "bootstrap: engine backend: $ENGINE_BACKEND ($ENGINE_REASON)"
if [ ! -f "$VENV/.stamp" ] || [ pyproject.toml -nt "$VENV/.stamp" ]; then
  echo "bootstrap: installing Python dependencies (the first llama-cpp-python build takes a few minutes)"
  "$VENV/bin/python" -m pip install -q --upgrade pip wheel
  had_engine=yes
  "$VENV/bin/python" -c 'import llama_cpp' >/dev/null 2>&1 || had_engine=no
  CMAKE_ARGS="$ENGINE_CMAKE_ARGS" "$VENV/bin/python" -m pip install -q -e ".[test]"
  if [ $had_engine = no ]; then  # just built with the chosen backend
    printf '%s\n%s\n%s\n' "$ENGINE_BACKEND" "$ENGINE_REASON" "$ENGINE_CMAKE_ARGS" > "$VENV/engine-backend"
  fi
  touch "$VENV/.stamp"
fi
# rebuilds llama-cpp-python only when the recorded backend differs from the choice
scripts/build_engine.sh --install "$VENV"

if [ ! -f node_modules/.stamp ] || [ package-lock.json -nt node_modules/.stamp ]; then
  echo "bootstrap: installing node tools (anvil, solc)"
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/.stamp
fi
