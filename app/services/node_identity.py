"""The wallet's key seen as a MOR-RPC node key (the Go nodes use one key pair for everything)."""

from __future__ import annotations

from typing import Protocol

from app.p2p.crypto import ecies_open


class KeySigner(Protocol):
    @property
    def address(self) -> str: ...

    @property
    def public_key_uncompressed(self) -> bytes: ...

    def sign_message_hash(self, message_hash: bytes) -> bytes: ...

    def sign_raw_hash(self, digest: bytes) -> bytes: ...

    def ecdh_x(self, public_key: bytes) -> bytes: ...


class WalletNodeKey:
    """Adapts the wallet's ``WalletSigner`` (or a ``LocalSigner``) to ``app.p2p.keys.NodeKey``."""

    def __init__(self, signer: KeySigner) -> None:
        self._signer = signer

    def __repr__(self) -> str:
        return f"WalletNodeKey({self.address})"

    @property
    def address(self) -> str:
        return self._signer.address.lower()

    @property
    def public_key_uncompressed(self) -> bytes:
        return self._signer.public_key_uncompressed

    def sign_raw_hash(self, digest: bytes) -> bytes:
        return self._signer.sign_raw_hash(digest)

    def sign_message_hash(self, message_hash: bytes) -> bytes:
        return self._signer.sign_message_hash(message_hash)

    def ecies_decrypt(self, ciphertext: bytes) -> bytes:
        """The wallet does the ECDH with its key (which stays there); the rest is MOR-RPC's."""
        return ecies_open(self._signer.ecdh_x, ciphertext)
