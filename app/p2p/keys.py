"""The key a node speaks with: signs MOR-RPC messages, signs approvals/receipts, decrypts chunks.

The Go nodes use one wallet key pair for all three (§5.4), so ``NodeKey`` is the narrow view of a
wallet signer this layer needs. ``LocalKey`` wraps a coincurve private key (tests, headless
provider); an adapter for the wallet's signer only has to provide the same four members.
"""

from __future__ import annotations

import os
from typing import Protocol

import coincurve

from app.p2p import crypto


class NodeKey(Protocol):
    @property
    def address(self) -> str:
        """Lowercase 0x address."""
        ...

    @property
    def public_key_uncompressed(self) -> bytes:
        """65 bytes, 0x04‖X‖Y."""
        ...

    def sign_raw_hash(self, digest: bytes) -> bytes:
        """65-byte r‖s‖v, v∈{0,1}, low-s, RFC 6979."""
        ...

    def sign_message_hash(self, message_hash: bytes) -> bytes:
        """EIP-191 personal_sign over a 32-byte hash, v∈{27,28}."""
        ...

    def ecies_decrypt(self, ciphertext: bytes) -> bytes:
        """Open a payload ECIES-encrypted to ``public_key_uncompressed``."""
        ...


class LocalKey:
    """An in-memory secp256k1 key. Never logged: ``repr`` shows only the address."""

    def __init__(self, secret: bytes) -> None:
        self._key = coincurve.PrivateKey(secret)
        self._secret = bytes(self._key.secret)
        self._public = bytes(self._key.public_key.format(compressed=False))
        self._address = crypto.address_from_pubkey(self._public)

    @classmethod
    def from_hex(cls, secret_hex: str) -> LocalKey:
        return cls(bytes.fromhex(secret_hex.removeprefix("0x")))

    @classmethod
    def generate(cls) -> LocalKey:
        return cls(coincurve.PrivateKey(os.urandom(32)).secret)

    def __repr__(self) -> str:
        return f"LocalKey({self._address})"

    @property
    def address(self) -> str:
        return self._address

    @property
    def public_key_uncompressed(self) -> bytes:
        return self._public

    def sign_raw_hash(self, digest: bytes) -> bytes:
        return crypto.sign_hash(self._key, digest)

    def sign_message_hash(self, message_hash: bytes) -> bytes:
        return crypto.sign_eip191_hash(self._key, message_hash)

    def ecies_decrypt(self, ciphertext: bytes) -> bytes:
        return crypto.ecies_decrypt(self._secret, ciphertext)
