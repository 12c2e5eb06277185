"""The direct-to-C per-token primitives give the bytes the public library wrappers give, and the
reader's shared idle timer still ends a silent peer while a steady stream re-arms it rarely."""

from __future__ import annotations

import asyncio
import hmac
import os
import time

import coincurve
import pytest
from Crypto.Hash import keccak
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from app.p2p import crypto, native
from app.p2p.errors import PeerTimeout
from app.p2p.framing import JsonStreamReader


@given(st.binary(max_size=600))
@settings(max_examples=200, deadline=None)
def test_keccak_matches_pycryptodome(data: bytes) -> None:
    assert native.keccak256(data) == keccak.new(digest_bits=256, data=data).digest()


def test_keccak_uses_the_c_state_and_is_thread_safe() -> None:
    assert native.keccak256 is not native._keccak_public  # the fast path is active here
    import concurrent.futures

    blobs = [os.urandom(n) for n in range(0, 400, 7)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        got = list(pool.map(native.keccak256, blobs * 20))
    assert got == [keccak.new(digest_bits=256, data=b).digest() for b in blobs * 20]


@given(st.binary(max_size=100), st.binary(max_size=300))
@settings(max_examples=200, deadline=None)
def test_hmac_matches_stdlib(key: bytes, data: bytes) -> None:
    mac = native.HmacSha256(key)
    assert mac.digest(data) == hmac.digest(key, data, "sha256")
    assert mac.digest(data[:5], data[5:]) == hmac.digest(key, data, "sha256")


@given(
    st.binary(min_size=16, max_size=16),
    st.binary(min_size=16, max_size=16),
    st.binary(max_size=700),
)
@settings(max_examples=200, deadline=None)
def test_ctr_matches_cryptography(key: bytes, iv: bytes, data: bytes) -> None:
    ref = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    assert native.AesCtr(key).xor(iv, data) == ref.update(data) + ref.finalize()


@pytest.mark.parametrize("iv", [b"\xff" * 16, b"\xff" * 15 + b"\xfe", bytes(16)])
def test_ctr_counter_wraps_like_go(iv: bytes) -> None:
    """Go's CTR increments the whole 16-byte block big-endian and wraps to zero."""
    key, data = os.urandom(16), os.urandom(100)
    ref = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    assert native.AesCtr(key).xor(iv, data) == ref.update(data) + ref.finalize()


def test_sign_and_verify_match_coincurve() -> None:
    for _ in range(20):
        key = coincurve.PrivateKey()
        digest = os.urandom(32)
        sig = native.sign_recoverable(key.secret, digest)
        assert sig == key.sign_recoverable(digest, hasher=None)
        public = key.public_key.format(compressed=False)
        assert native.verify_compact(public, digest, sig[:64])
        assert native.verify_compact(key.public_key.format(), digest, sig[:64])
        assert not native.verify_compact(public, os.urandom(32), sig[:64])
        # the high-s twin of a valid signature is refused, as go-ethereum refuses it
        s = int.from_bytes(sig[32:64], "big")
        high = sig[:32] + (crypto.SECP256K1_N - s).to_bytes(32, "big")
        assert not native.verify_compact(public, digest, high)
        assert not crypto.verify_hash(public, digest, high + b"\x00")


def test_ecies_round_trip_and_tamper() -> None:
    user = coincurve.PrivateKey()
    public = user.public_key.format(compressed=False)
    recipient = crypto.EciesRecipient(public, reuse_ephemeral=True)
    for n in (0, 1, 16, 17, 300):
        msg = os.urandom(n)
        ct = recipient.encrypt(msg)
        assert crypto.ecies_decrypt(user.secret, ct) == msg
        bad = ct[:-1] + bytes([ct[-1] ^ 1])
        with pytest.raises(crypto.CryptoError):
            crypto.ecies_decrypt(user.secret, bad)


async def test_shared_idle_timer_still_ends_a_silent_peer() -> None:
    reader = asyncio.StreamReader()
    framed = JsonStreamReader(reader, idle_timeout=0.3, read_timeout=None)
    started = time.monotonic()

    async def steady() -> None:
        for i in range(12):  # a value every 50 ms: never idle for 0.3 s
            await asyncio.sleep(0.05)
            reader.feed_data(b'{"n":%d}' % i)

    feeder = asyncio.create_task(steady())
    got = [await framed.read_value() for _ in range(12)]
    await feeder
    assert got == [{"n": i} for i in range(12)]
    assert time.monotonic() - started > 0.5  # longer than one idle period, yet no timeout
    with pytest.raises(PeerTimeout):
        await framed.read_value()  # now the peer says nothing
    framed.close()
