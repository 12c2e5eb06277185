"""Honest receipts: a receipt signed by the provider says "served" to the contract (no dispute,
success counted in its statistics), so a session whose inference failed gets none: the consumer
closes it with its own signature, which the contract records as a dispute (spec §4.2), as with a
Go provider that cannot answer. Failed answers never count in the receipt's speed figures."""

from __future__ import annotations

import pytest

from app.inference.types import InferenceError
from app.p2p import crypto
from app.p2p.errors import ProviderRejected
from app.p2p.keys import LocalKey
from app.p2p.provider_server import PromptServed, ReceiptIssued, SessionFailed
from tests.p2p.conftest import BID, SESSION, Node

HI = {"messages": [{"role": "user", "content": "hi"}], "stream": True}


async def _prompt(node: Node, consumer: LocalKey) -> None:
    async for _ in node.client(consumer).prompt(SESSION, HI):
        pass


async def test_a_failed_session_gets_no_signed_receipt(node: Node, consumer: LocalKey) -> None:
    client = node.client(consumer)
    await client.request_session(BID, spend=1)
    node.chain.open_session(SESSION, consumer.address)
    await _prompt(node, consumer)  # one good answer
    node.engine.fail_with = InferenceError("The model stopped unexpectedly.")
    with pytest.raises(ProviderRejected, match="The model stopped"):
        await _prompt(node, consumer)
    with pytest.raises(ProviderRejected, match="session failed") as err:
        await client.report(SESSION)
    assert "timestamp" not in str(err.value).lower()  # never mistaken for a clock problem
    assert not any(isinstance(e, ReceiptIssued) for e in node.events)
    [failed] = [e for e in node.events if isinstance(e, SessionFailed)]
    assert (failed.session_id, failed.user, failed.failed_prompts) == (
        SESSION, consumer.address.lower(), 1)
    served = [e for e in node.events if isinstance(e, PromptServed)]
    assert [e.completed for e in served] == [True, False]


async def test_a_session_that_recovered_is_signed_with_only_the_answers_given(
    node: Node, consumer: LocalKey
) -> None:
    client = node.client(consumer)
    await client.request_session(BID, spend=1)
    node.chain.open_session(SESSION, consumer.address)
    node.engine.fail_with = InferenceError("out of memory")
    with pytest.raises(ProviderRejected):
        await _prompt(node, consumer)
    node.engine.fail_with = None
    await _prompt(node, consumer)
    receipt_bytes, signature = await client.report(SESSION)
    receipt = crypto.Receipt.decode(receipt_bytes)
    good = [e for e in node.events if isinstance(e, PromptServed) and e.completed]
    assert len(good) == 1
    assert receipt.tps_scaled1000 == good[0].tps_scaled1000  # the failure is not averaged in
    assert receipt.ttft_ms == good[0].ttft_ms
    assert crypto.recover_eip191_signer(crypto.keccak256(receipt_bytes), signature) == (
        node.server.key.address)
