"""Signatures, contract payloads and ECIES exactly as the Go nodes and the contract expect them.

- MOR-RPC signatures (§5.4): secp256k1 over keccak256(bytes), r‖s‖v with v∈{0,1}, low-s.
- Approvals and receipts (§4.1, §4.2): ABI words, EIP-191 over their 32-byte keccak, v∈{27,28}.
- ECIES (§5.5): go-ethereum's ECIES_AES128_SHA256 with empty s1/s2.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass

import coincurve

from app.p2p import native
from app.p2p.errors import CryptoError

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_HALF_N = SECP256K1_N // 2
_EIP191_PREFIX_32 = b"\x19Ethereum Signed Message:\n32"
ECIES_OVERHEAD = 65 + 16 + 32


def keccak256(data: bytes) -> bytes:
    """pycryptodome's C keccak with no wrapper around it (``native``): it runs twice per token."""
    return native.keccak256(data)


def eip191_digest(message_hash: bytes) -> bytes:
    """personal_sign digest of a 32-byte hash taken as raw bytes (not hex text)."""
    return keccak256(_EIP191_PREFIX_32 + message_hash)


def address_from_pubkey(public_key: bytes) -> str:
    """Lowercase 0x address of a 33- or 65-byte public key."""
    uncompressed = coincurve.PublicKey(public_key).format(compressed=False)
    return "0x" + keccak256(uncompressed[1:])[-20:].hex()


# ---------------------------------------------------------------- raw secp256k1


def sign_hash(private_key: coincurve.PrivateKey, digest: bytes) -> bytes:
    """RFC 6979, low-s, 65 bytes r‖s‖v with v∈{0,1} (go-ethereum ``crypto.Sign``)."""
    return native.sign_recoverable(private_key.secret, digest)


def _split(signature: bytes) -> tuple[int, int]:
    if len(signature) not in (64, 65):
        raise CryptoError(f"signature has {len(signature)} bytes, expected 65")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    if not (0 < r < SECP256K1_N and 0 < s <= _HALF_N):
        raise CryptoError("signature values out of range or high-s")
    return r, s


def verify_hash(public_key: bytes, digest: bytes, signature: bytes) -> bool:
    """go-ethereum ``VerifySignature``: ignores v, accepts 33/65-byte keys, rejects high-s."""
    try:
        _split(signature)
        return native.verify_compact(public_key, digest, signature[:64])
    except (CryptoError, ValueError, TypeError):
        return False


def recover_pubkey(digest: bytes, signature: bytes) -> bytes:
    """``Ecrecover`` with v∈{0,1}; returns the 65-byte uncompressed key."""
    if len(signature) != 65 or signature[64] not in (0, 1):
        raise CryptoError("recoverable signature must be 65 bytes with v 0 or 1")
    _split(signature)
    try:
        key = coincurve.PublicKey.from_signature_and_message(signature, digest, hasher=None)
    except Exception as exc:  # coincurve raises bare Exception on failed recovery
        raise CryptoError(f"public key recovery failed: {exc}") from exc
    return bytes(key.format(compressed=False))


def recover_address(digest: bytes, signature: bytes) -> str:
    return address_from_pubkey(recover_pubkey(digest, signature))


# ---------------------------------------------------------------- EIP-191 (contract signatures)


def sign_eip191_hash(private_key: coincurve.PrivateKey, message_hash: bytes) -> bytes:
    """personal_sign over a 32-byte hash, v∈{27,28} (what the contract's ECDSA.recover takes)."""
    sig = sign_hash(private_key, eip191_digest(message_hash))
    return sig[:64] + bytes([sig[64] + 27])


def recover_eip191_signer(message_hash: bytes, signature: bytes) -> str:
    if len(signature) != 65 or signature[64] not in (27, 28):
        raise CryptoError("EIP-191 signature must be 65 bytes with v 27 or 28")
    return recover_address(
        eip191_digest(message_hash), signature[:64] + bytes([signature[64] - 27])
    )


# ---------------------------------------------------------------- approval and receipt layouts


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _address_bytes(address: str) -> bytes:
    raw = bytes.fromhex(address[2:] if address[:2].lower() == "0x" else address)
    if len(raw) != 20:
        raise ValueError("address must be 20 bytes")
    return raw


@dataclass(frozen=True)
class Approval:
    """``abi.encode(bytes32 bidId, uint256 chainId, address user, uint128 timestamp)``."""

    bid_id: bytes
    chain_id: int
    user: str
    timestamp: int

    def encode(self) -> bytes:
        if len(self.bid_id) != 32 or not 0 <= self.timestamp < 2**128:
            raise ValueError("bad approval fields")
        return (
            self.bid_id
            + _word(self.chain_id)
            + bytes(12)
            + _address_bytes(self.user)
            + _word(self.timestamp)
        )

    @classmethod
    def decode(cls, data: bytes) -> Approval:
        if len(data) != 128:
            raise CryptoError(f"approval has {len(data)} bytes, expected 128")
        if data[64:76] != bytes(12) or data[96:112] != bytes(16):
            raise CryptoError("approval words are not canonical ABI")
        return cls(
            bid_id=data[:32],
            chain_id=int.from_bytes(data[32:64], "big"),
            user="0x" + data[76:96].hex(),
            timestamp=int.from_bytes(data[96:128], "big"),
        )


UINT32_MAX = 2**32 - 1


@dataclass(frozen=True)
class Receipt:
    """Seven ABI words: sessionId, chainId, timestamp, tps×1000, ttftMs, tokens in, tokens out."""

    session_id: bytes
    chain_id: int
    timestamp: int
    tps_scaled1000: int
    ttft_ms: int
    input_tokens: int
    output_tokens: int

    def encode(self) -> bytes:
        small = (self.tps_scaled1000, self.ttft_ms, self.input_tokens, self.output_tokens)
        if len(self.session_id) != 32 or not 0 <= self.timestamp < 2**128:
            raise ValueError("bad receipt fields")
        if any(not 0 <= v <= UINT32_MAX for v in small):
            raise ValueError("receipt counters must fit uint32")
        return (
            self.session_id
            + _word(self.chain_id)
            + _word(self.timestamp)
            + b"".join(_word(v) for v in small)
        )

    @classmethod
    def decode(cls, data: bytes) -> Receipt:
        if len(data) not in (160, 224):
            raise CryptoError(f"receipt has {len(data)} bytes, expected 224")
        words = [int.from_bytes(data[i : i + 32], "big") for i in range(32, len(data), 32)]
        if len(words) == 4:
            words += [0, 0]
        chain_id, ts, tps, ttft, tin, tout = words
        if ts >= 2**128 or any(v > UINT32_MAX for v in (tps, ttft, tin, tout)):
            raise CryptoError("receipt value does not fit its ABI type")
        return cls(data[:32], chain_id, ts, tps, ttft, tin, tout)


# ---------------------------------------------------------------- ECIES (AES-128-CTR + HMAC-SHA256)
# The point multiplication uses libsecp256k1 (coincurve): OpenSSL's generic-curve secp256k1 costs
# milliseconds per operation, which is more than a token takes to generate. AES-CTR, HMAC and the
# KDF use ``cryptography``/hashlib through ``native`` (one AES context and one keyed HMAC per
# derived key, reused by every chunk of a stream); the tests check the ECDH against
# ``cryptography``'s own.


def _load_public(public_key: bytes) -> coincurve.PublicKey:
    if len(public_key) != 65 or public_key[0] != 4:
        raise CryptoError("ECIES needs a 65-byte uncompressed public key")
    try:
        return coincurve.PublicKey(public_key)
    except ValueError as exc:
        raise CryptoError("public key is not on secp256k1") from exc


def ecdh_x(secret: bytes, public: coincurve.PublicKey) -> bytes:
    """The 32-byte x-coordinate of secret·Q (go-ethereum ``GenerateShared``)."""
    return bytes(public.multiply(secret).format(compressed=True)[1:])


def _derive_keys(shared_x: bytes) -> tuple[bytes, bytes]:
    k = hashlib.sha256(b"\x00\x00\x00\x01" + shared_x).digest()
    return k[:16], hashlib.sha256(k[16:32]).digest()


@dataclass(frozen=True)
class _Keys:
    """Ke and Km of one ECIES key agreement, ready to use for many messages."""

    aes: native.AesCtr
    mac: native.HmacSha256

    @classmethod
    def derive(cls, shared_x: bytes) -> _Keys:
        ke, km = _derive_keys(shared_x)
        return cls(native.AesCtr(ke), native.HmacSha256(km))


class EciesRecipient:
    """A parsed recipient key, so a provider streaming many chunks parses it only once.

    With ``reuse_ephemeral`` every chunk of one stream shares one ephemeral key R (and so one
    Ke/Km) while each chunk still gets a fresh random 128-bit IV. Every chunk stays a complete
    go-ethereum ECIES message (R is in each), but the stream costs one point multiplication
    instead of two per chunk.
    """

    def __init__(self, public_key: bytes, *, reuse_ephemeral: bool = False) -> None:
        self._public = _load_public(public_key)
        self._reuse = reuse_ephemeral
        self._cached: tuple[bytes, _Keys] | None = None

    def _ephemeral(self, ephemeral_secret: int | None) -> tuple[bytes, _Keys]:
        if ephemeral_secret is None and self._cached is not None:
            return self._cached
        if ephemeral_secret is None:
            eph = coincurve.PrivateKey()
        else:
            eph = coincurve.PrivateKey(ephemeral_secret.to_bytes(32, "big"))
        keys = _Keys.derive(ecdh_x(eph.secret, self._public))
        made = (bytes(eph.public_key.format(compressed=False)), keys)
        if self._reuse and ephemeral_secret is None:
            self._cached = made
        return made

    def encrypt(
        self, plaintext: bytes, *, ephemeral_secret: int | None = None, iv: bytes | None = None
    ) -> bytes:
        """R(65) ‖ IV(16) ‖ AES-CTR(pt) ‖ HMAC(IV ‖ ct); R and IV injectable for vectors."""
        r_pub, keys = self._ephemeral(ephemeral_secret)
        iv = os.urandom(16) if iv is None else iv
        if len(iv) != 16:
            raise ValueError("IV must be 16 bytes")
        ct = keys.aes.xor(iv, plaintext)
        return b"".join((r_pub, iv, ct, keys.mac.digest(iv, ct)))


def ecies_encrypt(
    public_key: bytes,
    plaintext: bytes,
    *,
    ephemeral_secret: int | None = None,
    iv: bytes | None = None,
) -> bytes:
    return EciesRecipient(public_key).encrypt(plaintext, ephemeral_secret=ephemeral_secret, iv=iv)


_derived_cache: dict[bytes, _Keys] = {}


def ecies_decrypt(private_secret: int | bytes, ciphertext: bytes) -> bytes:
    """Reverse of ``ecies_encrypt``; the MAC is checked in constant time before decrypting."""
    secret = (
        private_secret.to_bytes(32, "big") if isinstance(private_secret, int) else private_secret
    )
    return ecies_open(lambda r: ecdh_x(secret, _load_public(r)), ciphertext, cache=secret)


def ecies_open(
    shared_x: Callable[[bytes], bytes], ciphertext: bytes, *, cache: bytes = b""
) -> bytes:
    """``ecies_decrypt`` for a key held elsewhere (the wallet's): ``shared_x(R)`` is the ECDH x
    of the recipient's key with the message's 65-byte ephemeral key R. ``cache``, the secret
    itself, lets a stream that reuses its R derive its keys once (without it, nothing is kept).

    ``shared_x`` runs first, so a locked wallet says so whatever the payload."""
    # A stream reuses its R (see EciesRecipient); remember derived keys, indexed by a hash so
    # the cache never holds the secret itself.
    slot = hashlib.sha256(cache + ciphertext[:65]).digest() if cache else b""
    keys = _derived_cache.get(slot) if cache else None
    if keys is None:
        try:
            keys = _Keys.derive(shared_x(ciphertext[:65]))
        except ValueError as exc:  # R is not a point of the curve
            raise CryptoError("ECIES ephemeral key is not an uncompressed secp256k1 point") from exc
        if cache:
            if len(_derived_cache) >= 64:
                _derived_cache.pop(next(iter(_derived_cache)))
            _derived_cache[slot] = keys
    if len(ciphertext) < ECIES_OVERHEAD or ciphertext[0] != 4:
        raise CryptoError("ECIES payload too short or malformed")
    iv = ciphertext[65:81]
    ct = ciphertext[81:-32]
    tag = ciphertext[-32:]
    if not hmac.compare_digest(keys.mac.digest(iv, ct), tag):
        raise CryptoError("ECIES MAC mismatch")
    return keys.aes.xor(iv, ct)
