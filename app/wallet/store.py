"""The wallet file on disk: one JSON document, rewritten atomically and readable only by its owner.

Everything secret inside it is encrypted (the active key as a V3 keystore, the recovery phrase in a
ChaCha20-Poly1305 box); everything else is public (addresses for the picker). Keeping it all in one
file means a password change is a single atomic replace: the key and the phrase can never end up
under two different passwords after a crash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.fileio import atomic_write_text
from app.wallet.errors import CorruptWalletFile, NoWallet

FORMAT = "morpheus-desktop-wallet"
VERSION = 1


@dataclass
class WalletFile:
    kind: str  # "hd" (from a recovery phrase) or "key" (a single imported key)
    address: str
    keystore: dict[str, Any]
    seed: dict[str, Any] | None = None
    account_index: int = 0
    accounts: list[str] = field(default_factory=list)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "version": VERSION,
                "kind": self.kind,
                "address": self.address,
                "account_index": self.account_index,
                "accounts": self.accounts,
                "keystore": self.keystore,
                "seed": self.seed,
                "created_at": self.created_at,
            },
            indent=2,
        )


def _damaged(path: Path, why: str) -> CorruptWalletFile:
    return CorruptWalletFile(
        f"The wallet file {path} is damaged ({why}) and cannot be opened. It has been left exactly "
        "as it is. Restore it from a backup, or import your recovery phrase again into a new "
        "wallet after moving the damaged file away.",
        detail=why,
    )


def load_wallet_file(path: Path) -> WalletFile:
    """Read and check the wallet file without ever writing to it."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise NoWallet() from exc
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _damaged(path, "it is not valid JSON") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _damaged(path, "it is not a Morpheus Desktop wallet")
    if data.get("version") != VERSION:
        raise CorruptWalletFile(
            f"The wallet file {path} was written by a newer version of Morpheus Desktop "
            f"(format {data.get('version')!r}). Update the program to open it."
        )
    try:
        wf = WalletFile(
            kind=str(data["kind"]),
            address=str(data["address"]),
            keystore=dict(data["keystore"]),
            seed=dict(data["seed"]) if data.get("seed") is not None else None,
            account_index=int(data.get("account_index", 0)),
            accounts=[str(a) for a in data.get("accounts", [])],
            created_at=str(data.get("created_at", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise _damaged(path, f"missing or invalid field {exc}") from exc
    if wf.kind not in ("hd", "key") or (wf.kind == "hd" and wf.seed is None):
        raise _damaged(path, "unknown wallet kind")
    return wf


def save_wallet_file(path: Path, wf: WalletFile) -> None:
    atomic_write_text(path, wf.to_json(), mode=0o600)
