"""Hypothesis against a small reference model of Go's decoding, written from the facts in spec
§5.8.1 independently of ``gofields``: the frame reader (values split anywhere, depth, junk) and
every message parser (duplicate keys, case and Unicode folding, hex/big-integer forms, escapes).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.p2p import gojson
from app.p2p.errors import ProtocolError
from app.p2p.extra_messages import UNSUPPORTED_METHODS
from app.p2p.framing import MAX_DEPTH, JsonStreamReader, decode_frame

# ---------------------------------------------------------------- the reference model

_KELVIN, _LONG_S = "\u212a", "\u017f"


def model_matches(key: str, field: str) -> bool:
    """Go: a key selects a field if they are equal under Unicode simple folding."""
    if len(key) != len(field):
        return False
    for k, f in zip(key, field.lower(), strict=True):
        if k == f or (k.isascii() and k.lower() == f):
            continue
        if (k, f) in ((_KELVIN, "k"), (_LONG_S, "s")):
            continue
        return False
    return True


def model_pick(pairs: list[tuple[str, str]], field: str) -> str | None:
    """The raw JSON text of the last pair whose key selects ``field`` (None: no such key)."""
    chosen = None
    for key, raw in pairs:
        if model_matches(key, field):
            chosen = raw
    return chosen


def model_hex(raw: str | None) -> bytes:
    """``HexString``: quotes stripped (escapes kept), 0x dropped, odd padded, stop at a bad pair."""
    if raw is None:
        return b""
    text = raw[1:-1] if raw.startswith('"') else raw
    if text.lower().startswith("0x"):
        text = text[2:]
    if len(text) % 2:
        text = "0" + text
    out = bytearray()
    for i in range(0, len(text), 2):
        pair = text[i : i + 2]
        if not all(c in "0123456789abcdefABCDEF" for c in pair):
            break
        out.append(int(pair, 16))
    return bytes(out)


def model_bigint(raw: str | None) -> int | None:
    """``BigInt``: quotes stripped, ``big.Int.SetString(s, 10)``; None means Go refuses it."""
    if raw is None:
        return 0
    text = raw[1:-1] if raw.startswith('"') else raw
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit():
        return None
    return int(text)


def model_uint(raw: str | None) -> int | None:
    if raw is None or raw == "null":
        return 0
    if not re.fullmatch(r"0|[1-9][0-9]*", raw) or int(raw) >= 2**64:
        return None
    return int(raw)


# ---------------------------------------------------------------- generators


def spellings(name: str) -> st.SearchStrategy[str]:
    """The field's name in any case, with k/s sometimes as KELVIN SIGN / LONG S."""

    def one(c: str) -> st.SearchStrategy[str]:
        options = [c.lower(), c.upper()]
        if c.lower() == "k":
            options.append(_KELVIN)
        if c.lower() == "s":
            options.append(_LONG_S)
        return st.sampled_from(options)

    return st.tuples(*(one(c) for c in name)).map("".join)


hexish = st.text(alphabet="0123456789abcdefABCDEFxXg ", max_size=12)
raw_values = st.one_of(
    hexish.map(lambda s: json.dumps(s)),
    hexish.map(lambda s: json.dumps("0x" + s)),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["null", "true", '"+12"', '"-7"', '"\\u0030x01"', '"0\\u0078ab"', "{}", "[]"]),
)
hex_fields = ["nonce", "signature", "key"]
all_fields = [*hex_fields, "spend", "timestamp", "user", "bidid", "other"]


@st.composite
def objects(draw: st.DrawFn) -> list[tuple[str, str]]:
    n = draw(st.integers(0, 8))
    pairs = []
    for _ in range(n):
        field = draw(st.sampled_from(all_fields))
        pairs.append((draw(spellings(field)), draw(raw_values)))
    return pairs


def to_text(pairs: list[tuple[str, str]]) -> bytes:
    return ("{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in pairs) + "}").encode()


# ---------------------------------------------------------------- message parsers vs the model


@settings(max_examples=200, deadline=None)
@given(pairs=objects())
def test_ping_fields_follow_go(pairs: list[tuple[str, str]]) -> None:
    text = to_text(pairs)
    value = decode_frame(text, escapes=b"\\" in text)
    nonce = model_hex(model_pick(pairs, "nonce"))
    signature = model_hex(model_pick(pairs, "signature"))
    try:
        ping = gojson.PingParams.parse(value)
    except ProtocolError:
        assert not nonce or not signature  # required fields
        return
    assert (ping.nonce, ping.signature) == (nonce, signature)


@settings(max_examples=200, deadline=None)
@given(pairs=objects())
def test_session_request_spend_and_timestamp_follow_go(pairs: list[tuple[str, str]]) -> None:
    text = to_text(pairs)
    value = decode_frame(text, escapes=b"\\" in text)
    spend = model_bigint(model_pick(pairs, "spend"))
    stamp = model_uint(model_pick(pairs, "timestamp"))
    try:
        got = gojson.parse_bigint(gojson.lookup(value, "spend"), "spend")
    except ProtocolError:
        assert spend is None
    else:
        assert got == spend
    try:
        ts = gojson.parse_uint(gojson.lookup(value, "timestamp"), "timestamp")
    except ProtocolError:
        assert stamp is None
    else:
        assert ts == stamp


def model_fixed_hex(raw: str | None, digits: int) -> str | bool | None:
    """``common.Address``/``Hash``: a JSON string "0x" + exactly ``digits`` hex, escapes not
    undone; None = absent (zero value), False = Go's decode fails."""
    if raw is None:
        return None
    if not raw.startswith('"') or "\\" in raw:
        return False
    text = raw[1:-1]
    if len(text) != digits + 2 or text[:2] not in ("0x", "0X"):
        return False
    if not all(c in "0123456789abcdefABCDEF" for c in text[2:]):
        return False
    return text[2:].lower()


addresses = st.sampled_from(
    [
        '"0x' + "ab" * 20 + '"',
        '"0X' + "AB" * 20 + '"',
        '"' + "ab" * 20 + '"',  # no 0x
        '"0x' + "a" * 39 + '"',  # short
        '"\\u0030x' + "ab" * 20 + '"',  # escaped
        "null",
        "12",
    ]
)


@settings(max_examples=200, deadline=None)
@given(pairs=objects(), user=st.lists(st.tuples(spellings("user"), addresses), max_size=3))
def test_address_fields_follow_go(
    pairs: list[tuple[str, str]], user: list[tuple[str, str]]
) -> None:
    pairs = pairs + user
    text = to_text(pairs)
    value = decode_frame(text, escapes=b"\\" in text)
    expected = model_fixed_hex(model_pick(pairs, "user"), 40)
    try:
        got = gojson.parse_address(gojson.lookup(value, "user"), "user")
    except ProtocolError:
        assert expected is False
    else:
        assert got == ("0x" + "0" * 40 if expected is None else "0x" + str(expected))


def test_known_go_forms() -> None:
    """The forms the spec names, one by one."""
    req = decode_frame(b'{"spend":"+12","SPEND":"+13"}')
    assert gojson.parse_bigint(gojson.lookup(req, "spend"), "spend") == 13  # last one wins
    with pytest.raises(ProtocolError):
        gojson.parse_bigint(None, "spend")  # null spend
    assert gojson.parse_hex(1234, "nonce") == b"\x12\x34"  # a bare number is hex digits
    escaped = decode_frame(b'{"nonce":"\\u0030x01"}')
    assert gojson.parse_hex(gojson.lookup(escaped, "nonce"), "nonce") == b""  # escapes not undone
    folded = decode_frame('{"\u017fignature":"0x01","nonce":"0x02"}'.encode())
    assert gojson.PingParams.parse(folded).signature == b"\x01"
    dup = decode_frame(b'{"user":"a","User":"b","user":"c"}')
    assert gojson.lookup(dup, "user") == "c"
    with pytest.raises(ProtocolError):
        decode_frame(b'{"a":NaN}')  # Go has no NaN


@pytest.mark.parametrize("method", sorted(UNSUPPORTED_METHODS))
@settings(max_examples=25, deadline=None)
@given(pairs=objects())
def test_every_message_parser_refuses_cleanly(method: str, pairs: list[tuple[str, str]]) -> None:
    text = to_text(pairs)
    value = decode_frame(text, escapes=b"\\" in text)
    parsers: list[Any] = [
        gojson.PingParams,
        gojson.SessionRequestParams,
        gojson.PromptParams,
        gojson.ReportParams,
        gojson.PromptChunk,
        gojson.SessionRequestResult,
        gojson.ReportResult,
        UNSUPPORTED_METHODS[method],
    ]
    for parser in parsers:
        with contextlib.suppress(ProtocolError):
            parser.parse(value)


# ---------------------------------------------------------------- the frame reader


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=20,
)


async def _read_all(pieces: list[bytes]) -> list[Any]:
    r = asyncio.StreamReader()
    for p in pieces:
        r.feed_data(p)
    r.feed_eof()
    framed = JsonStreamReader(r, max_message_bytes=1 << 20)
    out = []
    while True:
        try:
            out.append(await framed.read_value())
        except EOFError:
            return out


@settings(max_examples=200, deadline=None)
@given(values=st.lists(json_values, min_size=1, max_size=4), cuts=st.lists(st.integers(0, 400)))
def test_reader_splits_anywhere(values: list[Any], cuts: list[int]) -> None:
    data = b" ".join(json.dumps(v, ensure_ascii=False).encode() for v in values)
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    pieces = [data[a:b] for a, b in itertools.pairwise(points)]
    assert asyncio.run(_read_all(pieces)) == values


@settings(max_examples=300, deadline=None)
@given(
    data=st.binary(max_size=200) | st.text(alphabet='[]{}":,1a\\ ', max_size=200).map(str.encode)
)
def test_reader_agrees_with_a_strict_decoder_or_refuses(data: bytes) -> None:
    def strict(text: bytes) -> Any:
        # decoded as UTF-8 first, as Go reads it: ``json.loads`` on bytes would guess UTF-16
        # from a leading NUL (b"\x000" is 0 to it, garbage to Go)
        return json.loads(
            text.decode("utf-8"), parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c))
        )

    try:
        expected: Any = [strict(data)] if data.strip(b" \t\r\n") else []
    except (ValueError, RecursionError):
        expected = None
    try:
        got = asyncio.run(_read_all([data]))
    except ProtocolError:
        got = None
    if expected is not None and got is not None:
        assert got == expected
    if got is None:
        assert expected is None or data.count(b"[") + data.count(b"{") > MAX_DEPTH
