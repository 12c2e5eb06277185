"""Go-JSON rules, strict parsers, signatures and ECIES beyond the fixed vectors."""

from __future__ import annotations

import json

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from hypothesis import given, settings
from hypothesis import strategies as st

from app.p2p import crypto, gojson
from app.p2p.errors import CryptoError, ProtocolError
from app.p2p.keys import LocalKey
from tests.p2p.conftest import CONSUMER_SECRET, PROVIDER_SECRET

C = LocalKey.from_hex(CONSUMER_SECRET)
P = LocalKey.from_hex(PROVIDER_SECRET)


# ---------------------------------------------------------------- Go-JSON serialization


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ('"\\', b'"\\"\\\\"'),
        ("\n\r\t\b\f", b'"\\n\\r\\t\\b\\f"'),
        ("\x01\x1f", b'"\\u0001\\u001f"'),
        ("<>&", b'"\\u003c\\u003e\\u0026"'),
        ("\u2028\u2029", b'"\\u2028\\u2029"'),
        ("é中😀\x7f", '"é中😀\x7f"'.encode()),
        ("/", b'"/"'),
        ("\ud800x", '"\ufffdx"'.encode()),
    ],
)
def test_string_escaping_follows_go(text: str, encoded: bytes) -> None:
    assert gojson.go_json_bytes(text) == encoded


def test_omitempty_and_signature_placeholders() -> None:
    pong = gojson.PongResult(b"\x01", "", b"")
    assert pong.signed_bytes() == b'{"nonce":"0x01","signature":"0x"}'
    pong_v = gojson.PongResult(b"\x01", "v7", b"\xaa")
    assert pong_v.wire_bytes() == b'{"nonce":"0x01","version":"v7","signature":"0xaa"}'
    assert pong_v.signed_bytes() == b'{"nonce":"0x01","version":"v7","signature":"0x"}'
    chunk = gojson.PromptChunk("04ab", 5, b"\x01\x02")
    assert chunk.wire_bytes() == b'{"message":"04ab","signature":"0x0102","timestamp":5}'
    assert chunk.signed_bytes() == b'{"message":"04ab","timestamp":5}'
    report = gojson.ReportResult(b"\x01", b"\x02", 9, b"\x03")
    assert report.wire_bytes() == (
        b'{"message":"0x01","signedReport":"0x02","signature":"0x03","timestamp":9}'
    )
    assert report.signed_bytes() == b'{"message":"0x01","signedReport":"0x02","timestamp":9}'
    err = gojson.RpcError("session expired", 7)
    assert gojson.encode_error("ab", err) == (
        b'{"id":"ab","result":null,"error":{"message":"session expired","code":400,'
        b'"data":{"timestamp":7,"signature":"0x00"}}}'
    )
    assert err.signed_bytes().endswith(b'"data":{"timestamp":7,"signature":"0x"}}')


def test_hex_parsing_rules() -> None:
    assert gojson.parse_hex("0xABC", "k") == b"\x0a\xbc"  # odd length left-padded
    assert gojson.parse_hex("abc", "k") == b"\x0a\xbc"  # 0x optional
    assert gojson.parse_hex("0X", "k") == b""
    # go-ethereum FromHex on the raw JSON text: decoding stops at the first bad pair, a bare
    # number is hex digits, anything else is empty (a required field then refuses it)
    assert gojson.parse_hex("0xzz", "k") == b""
    assert gojson.parse_hex("0x12zz", "k") == b"\x12"
    assert gojson.parse_hex("0x 1", "k") == b""
    assert gojson.parse_hex(12, "k") == b"\x12"
    assert gojson.parse_hex(["00"], "k") == b""
    assert gojson.parse_hex(None, "k") == b""
    with pytest.raises(ProtocolError):
        gojson.parse_address("f39fd6e51aad88f6f4ce6ab8827279cfffb92266", "user")  # needs 0x
    with pytest.raises(ProtocolError):
        gojson.parse_address("0x" + "1" * 39, "user")
    with pytest.raises(ProtocolError):
        gojson.parse_bytes32("0x" + "1" * 63, "bidid")
    assert gojson.parse_bigint("0012", "spend") == 12  # re-marshals as "12"
    assert gojson.parse_bigint(12, "spend") == 12
    assert gojson.parse_bigint("+12", "spend") == 12  # big.Int.SetString takes a sign
    assert gojson.parse_bigint("-1", "spend") == -1
    for bad in ("1.5", True, 1.5, "0x10", None, ""):
        with pytest.raises(ProtocolError):
            gojson.parse_bigint(bad, "spend")
    for bad in (1.0, -1, "5", True, 2**64):
        with pytest.raises(ProtocolError):
            gojson.parse_uint(bad, "timestamp")


def test_envelope_requires_string_id() -> None:
    ok = gojson.parse_request({"id": "0", "method": "network.ping", "params": {}})
    assert ok.id == "0" and ok.method == "network.ping"
    # like Go's RPCMessage: an absent or null id is "", any other non-string fails the decode
    assert gojson.parse_request({"method": "x"}).id == ""
    assert gojson.parse_request({"id": None, "method": "x"}).id == ""
    for bad in ({"id": 1, "method": "x"}, {"id": "1", "method": 3}, [1], "x"):
        with pytest.raises(ProtocolError):
            gojson.parse_request(bad)


def test_required_fields_and_case_insensitive_keys() -> None:
    good = {
        "Signature": "0x01",
        "SESSIONID": "0x" + "22" * 32,
        "message": "{}",
        "timestamp": 1,
    }
    msg = gojson.PromptParams.parse(good)
    assert msg.session_id == b"\x22" * 32 and msg.signature == b"\x01"
    for missing in ("Signature", "SESSIONID", "message", "timestamp"):
        partial = {k: v for k, v in good.items() if k != missing}
        with pytest.raises(ProtocolError):
            gojson.PromptParams.parse(partial)


hexbytes = st.binary(max_size=80)
address = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
u64 = st.integers(0, 2**64 - 1)


@settings(max_examples=150, deadline=None)
@given(
    user=address,
    key=hexbytes,
    spend=st.integers(0, 10**40),
    ts=u64,
    bid=st.binary(min_size=32, max_size=32),
    sig=hexbytes,
)
def test_session_request_wire_round_trip(
    user: str, key: bytes, spend: int, ts: int, bid: bytes, sig: bytes
) -> None:
    msg = gojson.SessionRequestParams(user, key, spend, ts, bid, sig)
    wire = msg.wire_bytes()
    back = json.loads(wire)
    assert list(back)[: 1 if sig else 0] == (["signature"] if sig else [])
    if key and ts and bid != bytes(32) and sig and user != gojson.ZERO_ADDRESS:
        assert gojson.SessionRequestParams.parse(back) == msg
    assert json.loads(msg.signed_bytes()) == {k: v for k, v in back.items() if k != "signature"}


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=60))
def test_prompt_message_survives_any_text(text: str) -> None:
    """Whatever the user typed, the provider rebuilds exactly the bytes the consumer signed."""
    msg = gojson.PromptParams(b"\x01" * 32, text or "x", 1, b"\x05")
    reparsed = gojson.PromptParams.parse(json.loads(msg.wire_bytes()))
    assert reparsed.signed_bytes() == msg.signed_bytes()
    assert b"<" not in msg.signed_bytes() and b"&" not in msg.signed_bytes()


# ---------------------------------------------------------------- signatures


def test_verify_rejects_high_s_and_ignores_v() -> None:
    digest = crypto.keccak256(b"hello")
    sig = C.sign_raw_hash(digest)
    assert crypto.verify_hash(C.public_key_uncompressed, digest, sig)
    compressed = bytes([2 + (C.public_key_uncompressed[64] & 1)]) + C.public_key_uncompressed[1:33]
    assert crypto.verify_hash(compressed, digest, sig)
    flipped_v = sig[:64] + bytes([sig[64] ^ 1])
    assert crypto.verify_hash(C.public_key_uncompressed, digest, flipped_v)  # Go drops v
    s = int.from_bytes(sig[32:64], "big")
    high_s = sig[:32] + (crypto.SECP256K1_N - s).to_bytes(32, "big") + bytes([sig[64] ^ 1])
    assert not crypto.verify_hash(C.public_key_uncompressed, digest, high_s)
    assert not crypto.verify_hash(P.public_key_uncompressed, digest, sig)
    assert not crypto.verify_hash(C.public_key_uncompressed, crypto.keccak256(b"x"), sig)
    assert not crypto.verify_hash(b"\x04" + bytes(64), digest, sig)
    assert not crypto.verify_hash(C.public_key_uncompressed, digest, sig[:40])
    with pytest.raises(CryptoError):
        crypto.recover_pubkey(digest, high_s)


@settings(max_examples=30, deadline=None)
@given(data=st.binary(min_size=32, max_size=32))
def test_eip191_matches_eth_account(data: bytes) -> None:
    """Our approval signatures equal eth-account's personal_sign of the raw 32-byte hash."""
    ours = P.sign_message_hash(data)
    theirs = Account.sign_message(
        encode_defunct(primitive=data), private_key="0x" + PROVIDER_SECRET
    )
    assert ours == bytes(theirs.signature)
    assert crypto.recover_eip191_signer(data, ours) == P.address


def test_receipt_layout_and_bounds() -> None:
    r = crypto.Receipt(b"\x22" * 32, 31337, 1_700_000_000, 12_345, 80, 7, 5)
    enc = r.encode()
    assert len(enc) == 224
    assert enc[32 * 3 : 32 * 4] == (12_345).to_bytes(32, "big")
    assert enc[-32:] == (5).to_bytes(32, "big")
    assert crypto.Receipt.decode(enc) == r
    with pytest.raises(ValueError):
        crypto.Receipt(b"\x22" * 32, 1, 1, 2**32, 0, 0, 0).encode()
    with pytest.raises(CryptoError):
        crypto.Receipt.decode(enc[:200])
    with pytest.raises(CryptoError):
        crypto.Approval.decode(b"\x01" * 128)  # non-canonical address word


# ---------------------------------------------------------------- ECIES


@settings(max_examples=40, deadline=None)
@given(plaintext=st.binary(max_size=300))
def test_ecies_round_trip_and_tamper(plaintext: bytes) -> None:
    ct = crypto.ecies_encrypt(C.public_key_uncompressed, plaintext)
    assert len(ct) == len(plaintext) + crypto.ECIES_OVERHEAD
    assert C.ecies_decrypt(ct) == plaintext
    with pytest.raises(CryptoError):
        P.ecies_decrypt(ct)  # someone else's key fails the MAC
    tampered = bytearray(ct)
    tampered[70] ^= 1
    with pytest.raises(CryptoError):
        C.ecies_decrypt(bytes(tampered))


def test_ecies_rejects_bad_inputs() -> None:
    with pytest.raises(CryptoError):
        crypto.ecies_encrypt(C.public_key_uncompressed[:33], b"x")  # compressed key
    with pytest.raises(CryptoError):
        C.ecies_decrypt(b"\x04" * 50)
    ct = crypto.ecies_encrypt(C.public_key_uncompressed, b"x")
    with pytest.raises(CryptoError):
        C.ecies_decrypt(b"\x02" + ct[1:])


@settings(max_examples=20, deadline=None)
@given(a=st.integers(1, crypto.SECP256K1_N - 1), b=st.integers(1, crypto.SECP256K1_N - 1))
def test_ecdh_agrees_with_openssl(a: int, b: int) -> None:
    """The libsecp256k1 shared secret equals OpenSSL's ECDH through ``cryptography``."""
    import coincurve
    from cryptography.hazmat.primitives.asymmetric import ec

    pub_b = coincurve.PrivateKey(b.to_bytes(32, "big")).public_key
    ours = crypto.ecdh_x(a.to_bytes(32, "big"), pub_b)
    theirs = ec.derive_private_key(a, ec.SECP256K1()).exchange(
        ec.ECDH(),
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), pub_b.format(False)),
    )
    assert ours == theirs


def test_stream_reuses_one_ephemeral_key_with_fresh_ivs() -> None:
    recipient = crypto.EciesRecipient(C.public_key_uncompressed, reuse_ephemeral=True)
    a, b = recipient.encrypt(b"first"), recipient.encrypt(b"first")
    assert a[:65] == b[:65] and a[65:81] != b[65:81]  # same R, fresh IV
    assert C.ecies_decrypt(a) == C.ecies_decrypt(b) == b"first"
    with pytest.raises(CryptoError):
        P.ecies_decrypt(b)  # the derived-key cache is per recipient key
    fresh = crypto.EciesRecipient(C.public_key_uncompressed)
    assert fresh.encrypt(b"x")[:65] != fresh.encrypt(b"x")[:65]


@settings(max_examples=100, deadline=None)
@given(
    message=st.text(alphabet="0123456789abcdefABCDEF", max_size=40) | st.text(max_size=10),
    ts=u64,
    sig=hexbytes,
)
def test_chunk_fast_path_matches_the_generic_encoder(message: str, ts: int, sig: bytes) -> None:
    chunk = gojson.PromptChunk(message, ts, sig)
    assert chunk.signed_bytes() == gojson.go_json_bytes(chunk.to_json(empty_signature=True))
    assert chunk.wire_bytes() == gojson.go_json_bytes(chunk.to_json())
    assert gojson.encode_result("a<b", chunk) == gojson.go_json_bytes(
        {"id": "a<b", "result": chunk.to_json()}
    )


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.text(max_size=12), min_size=1, max_size=4))
def test_delta_bytes_equal_the_generic_encoding(texts: list[str]) -> None:
    from app.p2p.openai_codec import ChunkBuilder

    fast = ChunkBuilder("chatcmpl-<&>", "m\u2028odel")
    slow = ChunkBuilder("chatcmpl-<&>", "m\u2028odel")
    slow.created = fast.created
    for text in texts:
        assert fast.delta_bytes(text) == gojson.go_json_bytes(slow.delta(text), sort_keys=True)
