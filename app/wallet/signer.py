"""What the rest of the program may ask of a key: the ``Signer`` protocol, and a local one.

Callers never see a private key, only this interface, so a hardware wallet can take the place of
``LocalSigner`` later without touching the chain or MOR-RPC code.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import coincurve
from eth_keys import keys
from eth_utils import keccak

from app.logsetup import register_secret
from app.wallet.errors import InvalidPrivateKey


@runtime_checkable
class Signer(Protocol):
    @property
    def address(self) -> str:
        """Checksummed 0x address."""
        ...

    @property
    def public_key_uncompressed(self) -> bytes:
        """65 bytes, 0x04 ‖ X ‖ Y (what MOR-RPC sends as ``key``)."""
        ...

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        """The raw signed transaction, ready for ``eth_sendRawTransaction``."""
        ...

    def sign_message_hash(self, message_hash: bytes) -> bytes:
        """EIP-191 personal_sign over 32 raw bytes: 65 bytes r ‖ s ‖ v with v in {27, 28}."""
        ...

    def sign_raw_hash(self, digest: bytes) -> bytes:
        """secp256k1 over a 32-byte digest, no prefix: r ‖ s ‖ v with v in {0, 1} (MOR-RPC)."""
        ...


def parse_private_key(text: str | bytes) -> bytes:
    """32 key bytes from hex text (with or without 0x) or raw bytes; a clear error otherwise."""
    if isinstance(text, bytes | bytearray):
        raw = bytes(text)
    else:
        s = text.strip().removeprefix("0x").removeprefix("0X")
        if len(s) != 64:
            raise InvalidPrivateKey(
                f"A private key is 64 hexadecimal characters (optionally starting with 0x); "
                f"this one has {len(s)}."
            )
        try:
            raw = bytes.fromhex(s)
        except ValueError as exc:
            raise InvalidPrivateKey(
                "A private key may only contain the characters 0-9 and a-f."
            ) from exc
    if len(raw) != 32:
        raise InvalidPrivateKey(f"A private key is 32 bytes; this one has {len(raw)}.")
    try:
        keys.PrivateKey(raw)
        coincurve.PrivateKey(raw)
    except Exception as exc:
        raise InvalidPrivateKey("This is not a valid private key (it is out of range).") from exc
    return raw


def _check_digest(digest: bytes) -> None:
    if len(digest) != 32:
        raise ValueError(f"expected a 32-byte hash, got {len(digest)} bytes")


class LocalSigner:
    """A key held in this process's memory (for as long as the wallet is unlocked)."""

    def __init__(self, private_key: bytes) -> None:
        key = parse_private_key(private_key)
        register_secret(key.hex())
        register_secret("0x" + key.hex())
        self._key = key
        self._cc = coincurve.PrivateKey(key)
        pk = keys.PrivateKey(key)
        self._address = pk.public_key.to_checksum_address()
        self._pub = b"\x04" + pk.public_key.to_bytes()
        self._shared: dict[bytes, bytes] = {}  # ephemeral public key -> ECDH x (ecdh_x)

    def __repr__(self) -> str:  # never show the key, even in a debugger or a traceback
        return f"LocalSigner({self._address})"

    @property
    def address(self) -> str:
        return str(self._address)

    @property
    def public_key_uncompressed(self) -> bytes:
        return self._pub

    def private_key_bytes(self) -> bytes:
        """Only for re-encrypting or exporting the key; nothing else should call this."""
        return self._key

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        from eth_account import Account  # loaded on first use, not with the idle window

        return bytes(Account.sign_transaction(tx, self._key).raw_transaction)

    def sign_message_hash(self, message_hash: bytes) -> bytes:
        _check_digest(message_hash)
        from eth_account import Account
        from eth_account.messages import encode_defunct

        signed = Account.sign_message(encode_defunct(primitive=message_hash), self._key)
        return bytes(signed.signature)

    def sign_raw_hash(self, digest: bytes) -> bytes:
        _check_digest(digest)
        return bytes(self._cc.sign_recoverable(digest, hasher=None))

    def ecdh_x(self, public_key: bytes) -> bytes:
        """The x-coordinate of key·Q for a 65-byte public key Q (go-ethereum's ECDH
        ``GenerateShared``): what opening a MOR-RPC ECIES message sent to this key needs, while
        the key itself never leaves. A stream reuses its Q, so the last few are remembered."""
        x = self._shared.get(public_key)
        if x is None:
            point = coincurve.PublicKey(public_key).multiply(self._key)
            x = bytes(point.format(compressed=True)[1:])
            if len(self._shared) >= 64:
                self._shared.pop(next(iter(self._shared)))
            self._shared[public_key] = x
        return x


def recover_raw_hash_signer(digest: bytes, signature: bytes) -> str:
    """The address that produced a ``sign_raw_hash`` signature (for tests and verification)."""
    pub = coincurve.PublicKey.from_signature_and_message(signature, digest, hasher=None)
    return str(keys.PublicKey(pub.format(compressed=False)[1:]).to_checksum_address())


def keccak_hash(data: bytes) -> bytes:
    return bytes(keccak(data))
