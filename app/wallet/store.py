"""The wallet file on disk: one JSON document, rewritten atomically and readable only by its owner.

Everything secret inside it is encrypted (the active key as a V3 keystore, the recovery phrase in a
ChaCha20-Poly1305 box); everything else is public (addresses for the picker). Keeping it all in one
file means a password change is a single atomic replace: the key and the phrase can never end up
under two different passwords after a crash.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.fileio import atomic_write_bytes, atomic_write_text
from app.wallet.errors import CorruptWalletFile, NoWallet

log = logging.getLogger(__name__)


class DamagedWalletFile(CorruptWalletFile):
    """Our wallet file, unreadable or inconsistent: restore from the recovery phrase."""


class ForeignWalletFile(CorruptWalletFile):
    """A file of another program where the wallet file should be: nothing damaged."""

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


def damaged_copy(path: Path) -> Path | None:
    """The copy kept aside of ``path``'s current content, when it was found damaged before
    (some damage, like a flipped bit in the encrypted key, only shows when unlocking)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    for old in sorted(path.parent.glob(f"{path.name}.damaged-*")):
        with contextlib.suppress(OSError):
            if old.read_bytes() == data:
                return old
    return None


def keep_aside(path: Path) -> Path | None:
    """Copy a damaged file to ``<name>.damaged-<time>`` (once per distinct content), so that no
    later restore or repair can lose it; the original stays where it is."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    old = damaged_copy(path)
    if old is not None:
        return old
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    copy = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while copy.exists():
        n += 1
        copy = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    try:
        atomic_write_bytes(copy, data, mode=0o600)
    except OSError:
        log.warning("could not keep a copy of the damaged wallet file", exc_info=True)
        return None
    log.warning("damaged wallet file copied to %s", copy)
    return copy


def damaged(path: Path, why: str, *, hd: bool | None = None) -> DamagedWalletFile:
    """The error for a wallet file that cannot be used as it is, with a copy kept aside."""
    copy = keep_aside(path)
    if hd is None:  # a file cut short still names its kind near the top
        with contextlib.suppress(OSError):
            head = path.read_bytes()[:400]
            hd = True if b'"kind": "hd"' in head else False if b'"kind": "key"' in head else None
    backup = (
        "your recovery phrase restores it" if hd else
        "your private key or keystore backup restores it" if hd is False else
        "your recovery phrase restores it (or your key backup, for a wallet imported from a "
        "single key)"
    )
    kept = f" A copy was kept at {copy}." if copy is not None else ""
    return DamagedWalletFile(
        f"The wallet file is damaged; {backup}. It has been left exactly as it is ({path}).{kept} "
        "To restore: Wallet page \u2192 Restore, or `morpheus wallet import mnemonic` (or "
        "`import key`). The damaged file is never overwritten without a copy.",
        detail=why,
    )


def _damaged(path: Path, why: str) -> DamagedWalletFile:
    return damaged(path, why)


def _foreign(data: Any) -> str | None:
    """What program's file this looks like, when it is clearly not ours."""
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("crypto", data.get("Crypto")), dict):
        return "an Ethereum keystore file (from geth, MetaMask or a similar wallet)"
    if {"data", "iv", "salt"} <= data.keys():
        return "a MetaMask vault"
    return None


def load_wallet_file(path: Path) -> WalletFile:
    """Read and check the wallet file without ever writing to it."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise NoWallet() from exc
    if not raw.strip():
        raise _damaged(path, "the file is empty")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _damaged(path, "it is not valid JSON, probably cut short") from exc
    other = _foreign(data) if isinstance(data, dict) and data.get("format") != FORMAT else None
    if other is not None:
        raise ForeignWalletFile(
            f"The file {path} is not a Morpheus Desktop wallet: it looks like {other}. Move it "
            "out of the wallet folder, then import it (Wallet page \u2192 Import, or `morpheus "
            "wallet import keystore --file ...`). Nothing was changed."
        )
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
