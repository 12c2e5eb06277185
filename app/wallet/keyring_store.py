"""Remembering the unlock secret for "unlock automatically on this computer".

The OS keyring (macOS Keychain, Windows Credential Locker, Secret Service) is used if present.
Many Linux machines and frozen apps have none (keyring raises ``NoKeyringError``); then the secret
goes to an encrypted file (keyrings.cryptfile, AES-GCM with an Argon2 key) whose key lives in a
separate owner-only file, and the user is told that this is weaker than a system keyring.
"""

from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from pathlib import Path

import keyring
from keyring.backend import KeyringBackend
from keyring.backends.chainer import ChainerBackend
from keyring.errors import KeyringError

from app.fileio import atomic_write_text
from app.wallet.errors import WalletError

SERVICE = "MorpheusDesktop wallet"
#: In a wallet folder, this file means "never use the OS keyring here" (the demo's throw-away
#: wallets must not leave entries in the user's real keyring).
FILE_ONLY_MARKER = "use-file-keyring"
FILE_KDF_COST = (2, 2**12, 1)  # argon2id time cost, memory (KiB), lanes for the fallback file
FALLBACK_NOTICE = (
    "This computer has no system keyring, so the password is kept in an encrypted file in the "
    "program's data folder instead. Anyone who can log in to this computer as you could unlock "
    "the wallet."
)


def system_keyring() -> KeyringBackend | None:
    """The OS keyring backend, or ``None`` when keyring only offers its fail/file fallbacks."""
    kr = keyring.get_keyring()
    candidates = list(kr.backends) if isinstance(kr, ChainerBackend) else [kr]
    for backend in candidates:
        module = type(backend).__module__
        if module.startswith("keyring.backends.") and module.rsplit(".", 1)[-1] not in (
            "fail",
            "null",
            "chainer",
        ):
            return backend
    return None


@dataclass(frozen=True)
class StoreKind:
    system: bool
    description: str
    notice: str | None


class UnlockSecretStore:
    """Save, load and forget one secret per wallet address."""

    def __init__(
        self, data_dir: Path, key_dir: Path, backend: KeyringBackend | None = None
    ) -> None:
        self._data_dir = data_dir
        self._key_dir = key_dir
        self._backend = backend
        self._resolved: KeyringBackend | None = None
        self._system: bool | None = None

    @property
    def fallback_file(self) -> Path:
        return self._data_dir / "unlock-secrets.cfg"

    @property
    def fallback_key_file(self) -> Path:
        return self._key_dir / "unlock-secrets.key"

    def _fallback(self) -> KeyringBackend:
        from keyrings.cryptfile.cryptfile import CryptFileKeyring

        key_file = self.fallback_key_file
        if key_file.exists():
            key = key_file.read_text(encoding="ascii").strip()
        else:
            key = secrets.token_urlsafe(32)
            atomic_write_text(key_file, key)
        kr = CryptFileKeyring()
        kr.file_path = str(self.fallback_file)  # type: ignore[misc]
        # The file key is 256 random bits, not a human password, so a slow KDF adds nothing but a
        # multi-second wait at every start. These values are part of the file format: the file
        # does not record them, so changing them needs a migration.
        kr.time_cost, kr.memory_cost, kr.parallelism = FILE_KDF_COST
        try:
            kr.keyring_key = key
        except ValueError as exc:
            raise WalletError(
                "The saved-password file could not be opened. Unlock with your password; you can "
                "turn on automatic unlock again afterwards.",
                detail=str(exc),
            ) from exc
        return kr

    @property
    def file_only(self) -> bool:
        return (self._data_dir / FILE_ONLY_MARKER).exists()

    def use_file_only(self) -> None:
        """From now on keep secrets of this wallet folder in the encrypted file, never the OS."""
        atomic_write_text(self._data_dir / FILE_ONLY_MARKER, "1\n")
        self._resolved = None

    def backend(self) -> KeyringBackend:
        if self._resolved is None:
            chosen = self._backend
            if chosen is None and not self.file_only:
                chosen = system_keyring()
            self._system = chosen is not None
            self._resolved = chosen if chosen is not None else self._fallback()
        return self._resolved

    def kind(self) -> StoreKind:
        b = self.backend()
        if self._system:
            return StoreKind(True, f"system keyring ({type(b).__name__})", None)
        return StoreKind(False, "encrypted file", FALLBACK_NOTICE)

    def save(self, account: str, secret: str) -> StoreKind:
        try:
            self.backend().set_password(SERVICE, account.lower(), secret)
        except KeyringError as exc:
            raise WalletError(
                "The password could not be saved for automatic unlock.", detail=str(exc)
            ) from exc
        return self.kind()

    def load(self, account: str) -> str | None:
        try:
            return self.backend().get_password(SERVICE, account.lower())
        except (KeyringError, ValueError):
            return None

    def forget(self, account: str) -> None:
        with contextlib.suppress(KeyringError):
            self.backend().delete_password(SERVICE, account.lower())
