"""End-to-end fixtures: the shared devnet, one real SmolLM2 engine, two wallets' services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest_asyncio

from app.chain.client import ChainClient
from app.chain.devnet import Devnet, dev_account
from app.chain.networks import network_from_dict
from app.chain.tx import TxPolicy
from app.inference.engine import LocalEngine
from app.inference.library import bundled_model_path
from app.services.consumer_service import ConsumerService
from app.services.node_identity import WalletNodeKey
from app.services.provider_service import ProviderService
from app.services.tasks import TaskRunner
from app.storage.jobs import JobStore
from app.storage.sessions import SessionStore
from app.wallet.signer import LocalSigner
from tests.devnet_fixture import devnet  # noqa: F401  (fixture)

FAST = TxPolicy(poll_interval=0.05, receipt_timeout=30.0, replace_after=30.0)
PROVIDER_INDEX = 5
CONSUMER_INDEX = 6


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def smol_engine() -> AsyncIterator[LocalEngine]:
    path = bundled_model_path()
    assert path is not None
    eng = LocalEngine(path, n_slots=2, n_ctx=1024, n_threads=1, name="SmolLM2-135M-Instruct")
    await eng.start()
    yield eng
    await eng.stop()


@dataclass
class Party:
    chain: ChainClient
    signer: LocalSigner
    runner: TaskRunner
    sessions: SessionStore
    home: Path


async def make_party(devnet_: Devnet, index: int, home: Path) -> Party:
    chain = ChainClient(network_from_dict(devnet_.network), policy=FAST)
    await chain.connect()
    signer = LocalSigner(bytes(dev_account(index).key))
    home.mkdir(parents=True, exist_ok=True)
    return Party(chain, signer, TaskRunner(JobStore(home / "jobs.sqlite3")),
                 SessionStore(home / "sessions.sqlite3"), home)


@dataclass
class Market:
    devnet: Devnet
    provider: ProviderService
    consumer: ConsumerService
    p: Party
    c: Party


@pytest_asyncio.fixture(loop_scope="session")
async def market(
    devnet: Devnet, smol_engine: LocalEngine, tmp_path: Path
) -> AsyncIterator[Market]:
    snap = devnet.snapshot()
    p = await make_party(devnet, PROVIDER_INDEX, tmp_path / "provider")
    c = await make_party(devnet, CONSUMER_INDEX, tmp_path / "consumer")
    provider = ProviderService(p.chain, p.signer, WalletNodeKey(p.signer), smol_engine, p.runner,
                               p.sessions, model_name="SmolLM2-135M-Instruct")
    consumer = ConsumerService(c.chain, c.signer, WalletNodeKey(c.signer), c.runner, c.sessions)
    try:
        yield Market(devnet, provider, consumer, p, c)
    finally:
        if provider.server is not None:
            await provider.server.stop()
        await p.chain.close()
        await c.chain.close()
        devnet.revert(snap)
