"""Consumers' public keys (from their handshakes), kept across restarts of the provider node so
open sessions keep working. A public key is not a secret; a damaged file is ignored."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from app.fileio import atomic_write_text

log = logging.getLogger(__name__)


class UserKeyFile:
    def __init__(self, path: Path | None) -> None:
        self.path = path

    def load(self) -> dict[str, bytes]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            raw = json.loads(self.path.read_text())
            return {str(u): bytes.fromhex(k) for u, k in raw.items()}
        except (ValueError, OSError, AttributeError):
            log.warning("ignoring unreadable %s", self.path)
            return {}

    def save(self, user: str, key: bytes) -> None:
        if self.path is None or not key:
            return
        keys = {u: k.hex() for u, k in self.load().items()}
        keys[user.lower()] = key.hex()
        atomic_write_text(self.path, json.dumps(keys))
