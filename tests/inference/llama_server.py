"""Runs llama-cpp-python's own OpenAI-compatible server (``llama_cpp.server``) for the tests.

Unchanged, except on a processor where this llama.cpp build is known to crash (AMX): there the
model is loaded without extra buffer types, the same safe setting our engine starts with, since
the server has no option for it."""

from __future__ import annotations

import sys
from typing import Any

import llama_cpp.llama_cpp as ll
from llama_cpp.server.__main__ import main

from app.inference.ladder import cpu_flags, known_start, llama_version, read_cpuinfo

if known_start(cpu_flags(read_cpuinfo()), llama_version())[0] > 0:
    _default = ll.llama_model_default_params

    def _safe_params() -> Any:
        params = _default()
        params.use_extra_bufts = False
        return params

    ll.llama_model_default_params = _safe_params  # type: ignore[assignment]

if __name__ == "__main__":
    sys.exit(main())
