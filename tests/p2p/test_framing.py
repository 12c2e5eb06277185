"""The incremental JSON reader: values split anywhere, back to back, bounded, and timed."""

from __future__ import annotations

import asyncio
import json

import pytest

from app.p2p.errors import MessageTooLarge, PeerTimeout, ProtocolError
from app.p2p.framing import JsonStreamReader


def _reader(*pieces: bytes, eof: bool = True) -> asyncio.StreamReader:
    r = asyncio.StreamReader()
    for p in pieces:
        r.feed_data(p)
    if eof:
        r.feed_eof()
    return r


async def test_back_to_back_values_with_whitespace() -> None:
    framed = JsonStreamReader(_reader(b'{"a":1}{"b":"x"} \n [1,2]"s"'))
    assert await framed.read_value() == {"a": 1}
    assert await framed.read_value() == {"b": "x"}
    assert await framed.read_value() == [1, 2]
    assert await framed.read_value() == "s"
    with pytest.raises(EOFError):
        await framed.read_value()


async def test_value_split_at_every_byte_including_utf8() -> None:
    payload = json.dumps({"t": "héllo 中 😀", "n": 12345}, ensure_ascii=False).encode() * 2
    r = asyncio.StreamReader()
    framed = JsonStreamReader(r)
    got: list[object] = []

    async def feed() -> None:
        for i in range(len(payload)):
            r.feed_data(payload[i : i + 1])
            await asyncio.sleep(0)
        r.feed_eof()

    feeder = asyncio.create_task(feed())
    got.append(await framed.read_value())
    got.append(await framed.read_value())
    await feeder
    assert got == [{"t": "héllo 中 😀", "n": 12345}] * 2


async def test_number_at_end_waits_for_more_digits() -> None:
    r = asyncio.StreamReader()
    framed = JsonStreamReader(r)
    r.feed_data(b"12")
    task = asyncio.create_task(framed.read_value())
    await asyncio.sleep(0)
    r.feed_data(b"3")
    r.feed_eof()
    assert await task == 123


@pytest.mark.parametrize(
    "data", [b'{"a":', b'{"id":"x', b"[1,2", b'{"a":tru', b'{"a":"x\\u12', b'{"a":1.', b"[-"]
)
async def test_truncated_is_an_error(data: bytes) -> None:
    with pytest.raises(ProtocolError, match="truncated"):
        await JsonStreamReader(_reader(data)).read_value()


@pytest.mark.parametrize("data", [b"xyz{}", b'{"a" 1}', b"{'a':1}", b'{"a":"\x01"}', b"}"])
async def test_garbage_fails_without_waiting_for_eof(data: bytes) -> None:
    framed = JsonStreamReader(_reader(data, eof=False), idle_timeout=5, read_timeout=5)
    with pytest.raises(ProtocolError, match="invalid JSON"):
        await asyncio.wait_for(framed.read_value(), 2)


async def test_oversized_message_is_refused() -> None:
    big = b'{"a":"' + b"x" * 5000
    framed = JsonStreamReader(_reader(big, eof=False), max_message_bytes=1000)
    with pytest.raises(MessageTooLarge):
        await framed.read_value()


async def test_silent_peer_times_out() -> None:
    framed = JsonStreamReader(_reader(b'{"a":', eof=False), idle_timeout=0.05, read_timeout=5)
    with pytest.raises(PeerTimeout):
        await framed.read_value()


async def test_slow_peer_hits_total_deadline() -> None:
    r = asyncio.StreamReader()
    framed = JsonStreamReader(r, idle_timeout=1.0, read_timeout=0.2)
    stop = asyncio.Event()

    async def drip() -> None:
        r.feed_data(b'{"a":"')
        while not stop.is_set():
            r.feed_data(b"x")  # a byte well inside every idle gap
            await asyncio.sleep(0.01)

    dripper = asyncio.create_task(drip())
    try:
        with pytest.raises(PeerTimeout):
            await framed.read_value()
    finally:
        stop.set()
        await dripper
