"""Appendix B reproduced byte for byte: our Go-JSON, keccak, signatures, approval layout, EIP-191
digest and ECIES ciphertext equal the spec's, and our verifiers accept the spec's signatures."""

from __future__ import annotations

import json

from app.p2p import crypto, gojson
from app.p2p.keys import LocalKey
from tests.p2p.conftest import CONSUMER_SECRET, PROVIDER_SECRET

CONSUMER_ADDR = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
CONSUMER_PUB = bytes.fromhex(
    "048318535b54105d4a7aae60c08fc45f9687181b4fdfc625bd1a753fa7397fed753547f11ca8696646f2f3acb08e"
    "31016afac23e630c5d11f59f61fef57b0d2aa5"
)
PROVIDER_ADDR = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
BID = bytes.fromhex("11" * 32)


def _h(text: str) -> bytes:
    return bytes.fromhex(text.removeprefix("0x"))


def test_keys_match_appendix() -> None:
    c = LocalKey.from_hex(CONSUMER_SECRET)
    p = LocalKey.from_hex(PROVIDER_SECRET)
    assert c.address == CONSUMER_ADDR
    assert c.public_key_uncompressed == CONSUMER_PUB
    assert p.address == PROVIDER_ADDR
    assert CONSUMER_SECRET not in repr(c)


def test_b1_ping() -> None:
    msg = gojson.PingParams(_h("0102030405060708"))
    assert msg.signed_bytes() == b'{"nonce":"0x0102030405060708","signature":"0x"}'
    digest = crypto.keccak256(msg.signed_bytes())
    assert digest == _h("0xdbd695243b354339fcc7f70c5242389aff72bbaa1cd1926a905490380914a138")
    sig = _h(
        "0xfa242abd931d07462b4c8652986a98b791491e9e9c43d70bcccfe6669c46c5f76ac71d0ccf0f0d10963af4"
        "8c673cc2abdc8a7e33324dd8a250b9483d50efbcd301"
    )
    assert LocalKey.from_hex(CONSUMER_SECRET).sign_raw_hash(digest) == sig
    assert crypto.recover_address(digest, sig) == CONSUMER_ADDR
    assert crypto.verify_hash(CONSUMER_PUB, digest, sig)
    # The signed form always carries "signature":"0x", even when the wire form has one.
    assert gojson.PingParams(msg.nonce, sig).signed_bytes() == msg.signed_bytes()


def test_b2_session_request() -> None:
    expected = (
        b'{"user":"0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266","key":"0x048318535b54105d4a7aae60c0'
        b"8fc45f9687181b4fdfc625bd1a753fa7397fed753547f11ca8696646f2f3acb08e31016afac23e630c5d11f5"
        b'9f61fef57b0d2aa5","spend":"1000000000000000000","timestamp":1767225600123,"bidid":"0x111'
        b'1111111111111111111111111111111111111111111111111111111111111"}'
    )
    sig = _h(
        "0x20ed9f07078083aef8a2ea8db072228228e7da823626139a337070bd6f3e834868b09185999b49396467e1"
        "a73b88a7d1c495c2a08bf4e3e3aa3529de1da51f6900"
    )
    # Parse it the way the provider does: from wire JSON with the signature, mixed-case address.
    wire = {
        "signature": "0x" + sig.hex(),
        "user": "0xF39FD6E51AAD88F6F4CE6AB8827279CFFFB92266",
        "key": "0x" + CONSUMER_PUB.hex().upper(),
        "spend": 1000000000000000000,
        "timestamp": 1767225600123,
        "bidid": "0x" + "11" * 32,
    }
    msg = gojson.SessionRequestParams.parse(wire)
    assert msg.signed_bytes() == expected
    digest = crypto.keccak256(expected)
    assert digest == _h("0x60cbc6aa6a81ab9d4a70e4cd2cdd59bbd94ab4dffd94fd623a0beb3aa4c4e5b4")
    assert LocalKey.from_hex(CONSUMER_SECRET).sign_raw_hash(digest) == sig
    assert crypto.verify_hash(msg.key, digest, msg.signature)
    assert msg.wire_bytes().startswith(b'{"signature":"0x' + sig.hex().encode() + b'","user"')


def test_b3_approval() -> None:
    approval = crypto.Approval(BID, 8453, CONSUMER_ADDR, 1767225600123).encode()
    assert approval == _h(
        "1111111111111111111111111111111111111111111111111111111111111111"
        "0000000000000000000000000000000000000000000000000000000000002105"
        "000000000000000000000000f39fd6e51aad88f6f4ce6ab8827279cfffb92266"
        "0000000000000000000000000000000000000000000000000000019b76daa87b"
    )
    h = crypto.keccak256(approval)
    assert h == _h("0x21b29965b46cbe7d3b336f06c819226f78a9ebfd2629a3f843591103d8ab5c17")
    assert crypto.eip191_digest(h) == _h(
        "0x9e19463b688f4d76c20311f5ce88ab496cd2fa99fb3f0df81f6d83c578bd3c8a"
    )
    sig = _h(
        "0x3fbae2fd5f4834f4ccb2387b323e7e1d268add928a14833e8be1d7b02e79fa7622e897ed48669624fd3329"
        "a3a081d3c37c8988f9b4aea005ca662f51122c7c401c"
    )
    assert LocalKey.from_hex(PROVIDER_SECRET).sign_message_hash(h) == sig
    assert crypto.recover_eip191_signer(h, sig) == PROVIDER_ADDR
    assert crypto.Approval.decode(approval) == crypto.Approval(
        BID, 8453, CONSUMER_ADDR, 1767225600123
    )


def test_b4_prompt_html_escaping() -> None:
    inner = json.dumps(
        {"messages": [{"role": "user", "content": "a<b & c>d"}], "stream": True},
        separators=(",", ":"),
    )
    expected = (
        b'{"sessionid":"0x2222222222222222222222222222222222222222222222222222222222222222",'
        b'"message":"{\\"messages\\":[{\\"role\\":\\"user\\",\\"content\\":\\"a\\u003cb \\u0026 '
        b'c\\u003ed\\"}],\\"stream\\":true}","timestamp":1767225600456}'
    )
    msg = gojson.PromptParams(bytes.fromhex("22" * 32), inner, 1767225600456)
    assert msg.signed_bytes() == expected
    digest = crypto.keccak256(expected)
    assert digest == _h("0x75dcdcd6070ad726caf273f98cde983d5f7b7dfaffc699a664b1ad5e5e1022e8")
    sig = _h(
        "0xf619b745cfd4299a73913539e23874dca1addd9594206e0e9833cd38a7a0238867657685f547216ea37a33"
        "e3b4689e7b72814f44ddc615d5e149c32f0b19b60701"
    )
    assert LocalKey.from_hex(CONSUMER_SECRET).sign_raw_hash(digest) == sig
    assert crypto.verify_hash(CONSUMER_PUB, digest, sig)
    # The wire bytes decode back to the same message and re-marshal identically.
    reparsed = gojson.PromptParams.parse(
        json.loads(
            gojson.PromptParams(msg.session_id, msg.message, msg.timestamp, sig).wire_bytes()
        )
    )
    assert reparsed.signed_bytes() == expected


def test_b5_ecies() -> None:
    expected = _h(
        "043c72addb4fdf09af94f0c94d7fe92a386a7e70cf8a1d85916386bb2535c7b1b13b306b0fe085665d8fc1b2"
        "8ae1676cd3ad6e08eaeda225fe38d0da4de55703e0000102030405060708090a0b0c0d0e0fe35897b868d461"
        "5e521d620ec1eb6fae0a5ff5cc5fd0f5920c96369cc77b87fabd4cfdf815fce076"
    )
    ct = crypto.ecies_encrypt(
        CONSUMER_PUB, b'"[DONE]"', ephemeral_secret=int("33" * 32, 16), iv=bytes(range(16))
    )
    assert ct == expected
    assert len(ct) == 8 + crypto.ECIES_OVERHEAD
    assert LocalKey.from_hex(CONSUMER_SECRET).ecies_decrypt(expected) == b'"[DONE]"'
