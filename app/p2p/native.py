"""The per-token primitives, called as close to their C code as the libraries we ship allow.

Each streamed token costs one keccak, one secp256k1 signature (provider) or verification
(consumer), one AES-CTR and one HMAC-SHA256. The libraries' public wrappers spend more time in
Python checks than in the C they call (pycryptodome's keccak about 7 µs around 2 µs of hashing;
``cryptography`` builds and fetches a fresh OpenSSL cipher for every 100-byte chunk), and on a
provider those microseconds compete with llama.cpp for the cores. The bytes are unchanged:
``tests/p2p/test_native.py`` checks every function here against the public wrappers.

- keccak256: pycryptodome's own C functions (``keccak_init/absorb/digest``), one state per
  thread, falling back to the public API if that internal module ever changes shape.
- HMAC-SHA256: inner and outer SHA-256 states keyed once per key, copied per message.
- AES-128-CTR: one AES-ECB context per key encrypts the counter blocks (CTR's keystream is
  exactly E(IV), E(IV+1), … with a 128-bit big-endian counter, as in Go's ``cipher.NewCTR``).
- secp256k1: coincurve's bundled libsecp256k1 called directly (parsed public keys cached), the
  same calls coincurve's own methods make, without the DER round trip per verification.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable
from typing import Any

from coincurve._libsecp256k1 import ffi as _ecc_ffi
from coincurve._libsecp256k1 import lib as _ecc
from coincurve.context import GLOBAL_CONTEXT
from Crypto.Hash import keccak as _keccak_api

_CTX = GLOBAL_CONTEXT.ctx
_MASK128 = (1 << 128) - 1


# ---------------------------------------------------------------- keccak256


def _keccak_public(data: bytes) -> bytes:
    return _keccak_api.new(digest_bits=256, data=data).digest()


def _make_raw_keccak() -> Callable[[bytes], bytes] | None:
    """keccak256 on pycryptodome's C state, or None if its internals are not what we expect."""
    try:
        from Crypto.Hash.keccak import _raw_keccak_lib as klib  # type: ignore[attr-defined]
        from Crypto.Util._raw_api import VoidPointer
        from Crypto.Util._raw_api import ffi as kffi

        if kffi is None:  # the ctypes backend: the public path is as good
            return None
        local = threading.local()

        def state() -> tuple[Any, Any]:
            made = getattr(local, "made", None)
            if made is None:
                holder = VoidPointer()
                if klib.keccak_init(holder.address_of(), 64, 24):  # capacity 2×32, 24 rounds
                    raise ValueError("keccak_init failed")
                # the C state lives as long as this thread (no destroy: a few hundred bytes)
                made = local.made = (holder.get(), kffi.new("uint8_t[32]"))
            return made  # type: ignore[no-any-return]

        def keccak(data: bytes) -> bytes:
            st, out = state()
            klib.keccak_reset(st)
            if klib.keccak_absorb(st, data, len(data)) or klib.keccak_digest(st, out, 32, 1):
                raise ValueError("keccak failed")
            return bytes(kffi.buffer(out, 32))

        probe = b"morpheus"
        if keccak(probe) != _keccak_public(probe) or keccak(b"") != _keccak_public(b""):
            return None
        return keccak
    except Exception:  # any change in pycryptodome's internals: use its public API
        return None


keccak256: Callable[[bytes], bytes] = _make_raw_keccak() or _keccak_public


# ---------------------------------------------------------------- HMAC-SHA256 and AES-128-CTR


class HmacSha256:
    """HMAC-SHA256 with its key absorbed once (RFC 2104: H(K⊕opad ‖ H(K⊕ipad ‖ m)))."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def digest(self, *parts: bytes) -> bytes:
        inner = self._inner.copy()
        for part in parts:
            inner.update(part)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


@functools.lru_cache(maxsize=512)
def _counter_digits(count: int) -> tuple[int, int]:
    ones = sum(1 << (128 * k) for k in range(count))
    steps = sum(i << (128 * (count - 1 - i)) for i in range(count))
    return ones, steps


class AesCtr:
    """AES-128-CTR for many messages under one key, each with its own IV."""

    __slots__ = ("_ecb",)

    def __init__(self, key: bytes) -> None:
        # (imported here: the idle window loads this module but never needs AES)
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        self._ecb = Cipher(algorithms.AES(key), modes.ECB()).encryptor()

    def xor(self, iv: bytes, data: bytes) -> bytes:
        """Encrypts or decrypts ``data`` (CTR is its own inverse)."""
        n = len(data)
        if n == 0:
            return b""
        count = (n + 15) // 16
        counter = int.from_bytes(iv, "big")
        if counter + count - 1 <= _MASK128:
            # all counter blocks as one integer: counter·(1,1,…,1) + (0,1,…,count-1) in 128-bit
            # digits; no digit carries since no block wraps
            ones, steps = _counter_digits(count)
            blocks = (counter * ones + steps).to_bytes(16 * count, "big")
        else:
            blocks = b"".join(((counter + i) & _MASK128).to_bytes(16, "big") for i in range(count))
        stream = self._ecb.update(blocks)
        return (int.from_bytes(data, "big") ^ int.from_bytes(stream[:n], "big")).to_bytes(n, "big")


# ---------------------------------------------------------------- secp256k1

_parsed_keys: dict[bytes, Any] = {}


def _parsed_public(public_key: bytes) -> Any:
    parsed = _parsed_keys.get(public_key)
    if parsed is None:
        parsed = _ecc_ffi.new("secp256k1_pubkey *")
        if not _ecc.secp256k1_ec_pubkey_parse(_CTX, parsed, public_key, len(public_key)):
            raise ValueError("public key is not on secp256k1")
        if len(_parsed_keys) >= 256:
            _parsed_keys.pop(next(iter(_parsed_keys)))
        _parsed_keys[public_key] = parsed
    return parsed


def verify_compact(public_key: bytes, digest: bytes, signature64: bytes) -> bool:
    """libsecp256k1's verify of r‖s over a 32-byte digest (it refuses high-s, as Go does)."""
    if len(digest) != 32 or len(signature64) != 64:
        return False
    sig = _ecc_ffi.new("secp256k1_ecdsa_signature *")
    if not _ecc.secp256k1_ecdsa_signature_parse_compact(_CTX, sig, signature64):
        return False
    return bool(_ecc.secp256k1_ecdsa_verify(_CTX, sig, digest, _parsed_public(public_key)))


def sign_recoverable(secret: bytes, digest: bytes) -> bytes:
    """RFC 6979 r‖s‖v (v∈{0,1}), the call coincurve's ``sign_recoverable`` makes."""
    if len(digest) != 32:
        raise ValueError("digest must be 32 bytes")
    sig = _ecc_ffi.new("secp256k1_ecdsa_recoverable_signature *")
    if not _ecc.secp256k1_ecdsa_sign_recoverable(
        _CTX, sig, digest, secret, _ecc_ffi.NULL, _ecc_ffi.NULL
    ):
        raise ValueError("signing failed (invalid private key)")
    out = _ecc_ffi.new("unsigned char[64]")
    recid = _ecc_ffi.new("int *")
    _ecc.secp256k1_ecdsa_recoverable_signature_serialize_compact(_CTX, out, recid, sig)
    return bytes(_ecc_ffi.buffer(out, 64)) + bytes((recid[0],))
