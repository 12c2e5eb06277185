"""The consumer trusts only chunks from the provider: the first chunk of an ephemeral key by its
signature, the later ones under the same key by their MAC (only the signer and we can make it).
A chunk slipped into the stream by anyone else is refused, whichever way it is made."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from app.p2p.consumer_client import ProviderClient
from app.p2p.crypto import EciesRecipient, keccak256
from app.p2p.errors import ProviderMisbehaved
from app.p2p.framing import JsonStreamReader
from app.p2p.gojson import PromptChunk, encode_result, go_json_bytes
from app.p2p.keys import LocalKey
from tests.p2p.conftest import CHAIN_ID, SESSION, fake_provider

HI = {"messages": [{"role": "user", "content": "hi"}], "stream": True}
PIECES = [{"choices": [{"delta": {"content": t}, "index": 0}]} for t in ("a", "b", "c")]


def _signed(request_id: str, ciphertext: bytes, signer: LocalKey) -> bytes:
    unsigned = PromptChunk(ciphertext.hex(), 1_700_000_000_000)
    sig = signer.sign_raw_hash(keccak256(unsigned.signed_bytes()))
    return encode_result(request_id, PromptChunk(unsigned.message, unsigned.timestamp, sig))


async def _serve_stream(
    consumer: LocalKey,
    provider: LocalKey,
    second: Callable[[str, EciesRecipient], bytes],
    *,
    signer: LocalKey | None = None,
) -> list[object]:
    """A stream from ``provider``'s endpoint (its chunks signed by ``signer``, the provider
    itself unless given) whose second chunk is ``second(request_id, recipient)``."""
    signer = signer or provider
    recipient = EciesRecipient(consumer.public_key_uncompressed, reuse_ephemeral=True)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await JsonStreamReader(reader).read_value()
        rid = request["id"]
        writer.write(_signed(rid, recipient.encrypt(go_json_bytes(PIECES[0])), signer))
        writer.write(second(rid, recipient))
        writer.write(_signed(rid, recipient.encrypt(go_json_bytes(PIECES[2])), signer))
        writer.write(_signed(rid, recipient.encrypt(go_json_bytes("[DONE]")), signer))
        await writer.drain()
        writer.close()

    async with fake_provider(serve) as endpoint:
        client = ProviderClient(
            endpoint,
            consumer,
            provider.address,
            chain_id=CHAIN_ID,
            provider_key=provider.public_key_uncompressed,
        )
        return [c async for c in client.prompt(SESSION, HI)]


async def test_a_stream_under_one_ephemeral_key_is_read_whole(
    consumer: LocalKey, provider_key: LocalKey
) -> None:
    def genuine(rid: str, recipient: EciesRecipient) -> bytes:
        return _signed(rid, recipient.encrypt(go_json_bytes(PIECES[1])), provider_key)

    assert await _serve_stream(consumer, provider_key, genuine) == PIECES


async def test_a_chunk_from_someone_else_is_refused(
    consumer: LocalKey, provider_key: LocalKey, other: LocalKey
) -> None:
    """Encrypted to us with the stranger's own ephemeral key and signed by the stranger."""
    stranger = EciesRecipient(consumer.public_key_uncompressed)

    def injected(rid: str, recipient: EciesRecipient) -> bytes:
        return _signed(rid, stranger.encrypt(go_json_bytes(PIECES[1])), other)

    with pytest.raises(ProviderMisbehaved) as refused:
        await _serve_stream(consumer, provider_key, injected)
    assert "signature is not the provider's" in refused.value.reason


async def test_a_chunk_reusing_the_providers_key_without_its_secret_is_refused(
    consumer: LocalKey, provider_key: LocalKey, other: LocalKey
) -> None:
    """The stranger copies the provider's ephemeral key R into its own chunk and alters the
    ciphertext; it cannot make the MAC, so the chunk is refused before it is decrypted."""

    def altered(rid: str, recipient: EciesRecipient) -> bytes:
        genuine = bytearray(recipient.encrypt(go_json_bytes(PIECES[1])))
        genuine[81] ^= 0x01  # first ciphertext byte, after R (65) and the IV (16)
        return _signed(rid, bytes(genuine), other)

    with pytest.raises(ProviderMisbehaved) as refused:
        await _serve_stream(consumer, provider_key, altered)
    assert "could not be decrypted" in refused.value.reason


async def test_the_first_chunk_is_always_checked_by_its_signature(
    consumer: LocalKey, provider_key: LocalKey, other: LocalKey
) -> None:
    """A stream a stranger made from its first chunk on (valid ECIES to us, its own key)."""

    def more(rid: str, recipient: EciesRecipient) -> bytes:
        return _signed(rid, recipient.encrypt(go_json_bytes(PIECES[1])), other)

    with pytest.raises(ProviderMisbehaved) as refused:
        await _serve_stream(consumer, provider_key, more, signer=other)
    assert "signature is not the provider's" in refused.value.reason
