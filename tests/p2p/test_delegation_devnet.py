"""Delegation both ways on a real devnet (spec §4.3): a provider serving with a hot key its main
wallet authorised on the delegate registry is accepted by our consumer, and its approval opens a
session on the real contract; a key nobody authorised is refused before any money moves."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from web3 import Web3
from web3.logs import DISCARD

from app.chain.artifacts import load_artifact
from app.chain.client import ChainClient
from app.chain.delegation import PROVIDER_RULE, DelegationChecker, checker_for
from app.chain.devnet import Devnet
from app.chain.networks import network_from_dict
from app.p2p.consumer_client import ProviderClient
from app.p2p.errors import ProviderMisbehaved
from app.p2p.keys import LocalKey
from app.p2p.provider_server import ProviderConfig, ProviderServer
from app.services.chain_lookup import ChainSessionLookup
from tests.contracts.helpers import MOR, Market, send, setup_market
from tests.devnet_fixture import chain_snapshot, devnet
from tests.p2p.conftest import TEST_LIMITS, TOKENS, CountingEngine

__all__ = ["chain_snapshot", "devnet"]
HI = {"messages": [{"role": "user", "content": "hi"}], "stream": True}


@dataclass
class World:
    devnet: Devnet
    market: Market
    client: ChainClient
    checker: DelegationChecker


@pytest.fixture
async def world(chain_snapshot: Devnet) -> AsyncIterator[World]:
    market = setup_market(chain_snapshot)
    client = ChainClient(network_from_dict(chain_snapshot.network))
    await client.connect()
    try:
        yield World(chain_snapshot, market, client, DelegationChecker(client.rpc, client.diamond))
    finally:
        await client.close()


def _server(w: World, key: LocalKey) -> ProviderServer:
    config = ProviderConfig(
        chain_id=w.devnet.chain_id,
        model_name="fake",
        provider_address=w.market.provider,
        limits=TEST_LIMITS,
    )
    return ProviderServer(
        key,
        ChainSessionLookup(w.client),
        CountingEngine(),
        config,
        chain_clock=lambda: float(w.devnet.timestamp()),
    )


def _consumer(w: World, server: ProviderServer) -> ProviderClient:
    return ProviderClient(
        server.endpoint,
        LocalKey(w.market.user_key),
        w.market.provider,
        chain_id=w.devnet.chain_id,
        delegate_check=w.checker,
        read_timeout=10,
        idle_timeout=10,
    )


async def test_a_delegated_hot_key_serves_and_an_unauthorised_one_is_refused(w: World) -> None:
    m, hot, stranger = w.market, LocalKey.generate(), LocalKey.generate()
    registry = w.devnet.w3.eth.contract(
        address=w.devnet.network["delegateRegistry"], abi=load_artifact("DelegateRegistry").abi
    )
    send(
        registry.functions.delegateContract(
            Web3.to_checksum_address(hot.address), m.diamond.address, PROVIDER_RULE, True
        ),
        m.provider,
    )
    assert await w.checker(m.provider, hot.address)
    assert not await w.checker(m.provider, stranger.address)
    from_service = checker_for(w.client)  # what the consumer service hands its clients
    assert from_service is not None and await from_service(m.provider, hot.address)

    async with _server(w, stranger) as rogue:
        with pytest.raises(ProviderMisbehaved):
            await _consumer(w, rogue).request_session(m.bid_id, spend=MOR)
        assert rogue.engine.calls == 0  # type: ignore[attr-defined]

    async with _server(w, hot) as server:
        consumer = _consumer(w, server)
        assert (await consumer.ping()).version
        approval = await consumer.request_session(m.bid_id, spend=MOR)
        # the contract itself accepts the hot key's approval through the delegation
        open_fn = m.diamond.functions.openSession(
            m.user, MOR, False, approval.approval, approval.approval_sig
        )
        receipt = send(open_fn, m.user)
        (event,) = m.diamond.events.SessionOpened().process_receipt(receipt, errors=DISCARD)
        session_id = bytes(event.args.sessionId)
        chunks = [c async for c in consumer.prompt(session_id, HI)]
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
        assert text == "".join(TOKENS)
        report, signature = await consumer.report(session_id)
        assert len(report) == 224 and len(signature) == 65


@pytest.fixture
def w(world: World) -> World:
    return world
