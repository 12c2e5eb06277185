"""A test switch of the engine's child: die the way llama.cpp does when a setting is on.

``MORPHEUS_ENGINE_CRASH_IF`` names settings, comma separated (``extra_bufts``, ``flash_attn``,
``threads``, ``gpu``, ``always``; add ``load`` to die while loading instead of on the first
decode). Tests use it to walk the fallback ladder with the real model; unset, it costs nothing.
"""

from __future__ import annotations

import os
import signal
import sys

ENV = "MORPHEUS_ENGINE_CRASH_IF"


def crash_switch(use_extra_bufts: bool, flash_attn: int, n_threads: int, ngl: int) -> str:
    """"decode", "load" or "" (no crash) for these settings."""
    names = {n.strip() for n in os.environ.get(ENV, "").split(",")}
    active = {
        "extra_bufts": use_extra_bufts,
        "flash_attn": flash_attn != 0,
        "threads": n_threads != 1,
        "gpu": ngl != 0,
        "always": True,
    }
    if not any(active.get(n, False) for n in names):
        return ""
    return "load" if "load" in names else "decode"


def crash_now() -> None:
    """Die by SIGSEGV, as the real fault does (no Python handler, no clean exit)."""
    sys.stderr.flush()
    signal.signal(signal.SIGSEGV, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGSEGV)
