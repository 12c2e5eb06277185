"""Remote chat fixtures: the real devnet, one real SmolLM2 engine (one thread, small context) on
the qasync loop the program runs on, two real providers serving it (dev accounts 3 and 9, the
cheaper one first), and the consumer (dev account 4) either headless or as the GUI builds it."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from app.chain.client import ChainClient
from app.chain.devnet import Devnet, dev_account, network_file
from app.chain.networks import network_from_dict
from app.chain.tx import TxPolicy
from app.inference.engine import LocalEngine
from app.paths import app_paths
from app.services.app_services import SERVICES_KEY, AppServices
from app.services.consumer_service import ConsumerService
from app.services.context import AppContext
from app.services.node_identity import WalletNodeKey
from app.services.provider_service import ProviderService
from app.services.runtime import Runtime
from app.services.tasks import TaskRunner
from app.services.wallet_service import WalletService
from app.storage.jobs import JobStore
from app.storage.sessions import SessionStore
from app.storage.settings import Settings
from app.wallet.keyring_store import UnlockSecretStore
from app.wallet.signer import LocalSigner
from tests.api.local_engine import SMOL_NAME as MODEL_NAME
from tests.api.local_engine import smol_engine  # noqa: F401  (fixture)
from tests.devnet_fixture import chain_snapshot, devnet  # noqa: F401  (fixtures)
from tests.qt_async import cancel_ui_ops, qt_event_loop

FAST = TxPolicy(poll_interval=0.05, receipt_timeout=30.0, replace_after=30.0)
PROVIDER_INDEXES = (3, 9)
PRICES = (10**13, 2 * 10**13)  # wei per second: the first provider is cheaper, so rated first
CONSUMER_INDEX = 4
PASSWORD = "amber-lantern-river-52-calm"
FAST_N = 2**10


def pytest_asyncio_loop_factories(config: Any, item: Any) -> dict[str, Any]:
    return {"qasync": qt_event_loop}


async def _chain(devnet_: Devnet) -> ChainClient:
    chain = ChainClient(network_from_dict(devnet_.network), policy=FAST)
    await chain.connect()
    return chain


@dataclass
class Providers:
    services: list[ProviderService]
    bids: list[str]
    chain: ChainClient

    def by_address(self, address: str) -> ProviderService:
        return next(p for p in self.services if p.me.lower() == address.lower())


@pytest_asyncio.fixture(loop_scope="module")
async def providers(
    chain_snapshot: Devnet, smol_engine: LocalEngine, tmp_path: Path
) -> AsyncIterator[Providers]:
    """Two providers online with a bid each for the real SmolLM2, serving on loopback."""
    chain = await _chain(chain_snapshot)
    made: list[ProviderService] = []
    bids: list[str] = []
    try:
        for index, price in zip(PROVIDER_INDEXES, PRICES, strict=True):
            signer = LocalSigner(bytes(dev_account(index).key))
            home = tmp_path / f"provider-{index}"
            home.mkdir()
            svc = ProviderService(chain, signer, WalletNodeKey(signer), smol_engine,
                                  TaskRunner(JobStore(home / "jobs.sqlite3")),
                                  SessionStore(home / "sessions.sqlite3"), model_name=MODEL_NAME)
            made.append(svc)
            bids.append(await svc.go_online(price))
        yield Providers(made, bids, chain)
    finally:
        for svc in made:
            if svc.server is not None:
                await svc.server.stop()
        await chain.close()


@dataclass
class Headless:
    service: ConsumerService
    chain: ChainClient


@pytest_asyncio.fixture(loop_scope="module")
async def consumer(chain_snapshot: Devnet, tmp_path: Path) -> AsyncIterator[Headless]:
    chain = await _chain(chain_snapshot)
    signer = LocalSigner(bytes(dev_account(CONSUMER_INDEX).key))
    home = tmp_path / "consumer"
    home.mkdir()
    runner = TaskRunner(JobStore(home / "jobs.sqlite3"))
    svc = ConsumerService(chain, signer, WalletNodeKey(signer), runner,
                          SessionStore(home / "sessions.sqlite3"))
    yield Headless(svc, chain)
    await runner.stop()
    await chain.close()


@dataclass
class Gui:
    ctx: AppContext
    services: AppServices
    address: str


@pytest_asyncio.fixture(loop_scope="module")
async def gui(
    chain_snapshot: Devnet, smol_engine: LocalEngine, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Gui]:
    """The consumer as the program builds it: its wallet imported and unlocked, settings on the
    devnet, and the program's own ``AppServices``."""
    home = tmp_path / "gui-home"
    monkeypatch.setenv("MORPHEUS_HOME", str(home))  # network_file() reads it
    paths = app_paths().ensure()
    nf = network_file()
    nf.parent.mkdir(parents=True, exist_ok=True)
    nf.write_text(json.dumps(chain_snapshot.network), encoding="utf-8")
    wallet = WalletService(paths, keystore_scrypt_n=FAST_N, seal_scrypt_n=FAST_N,
                           secrets=UnlockSecretStore(paths.wallet, paths.config))
    wallet.import_private_key(bytes(dev_account(CONSUMER_INDEX).key).hex(), PASSWORD)
    settings = Settings(network="devnet", provider_port=0)
    ctx = AppContext(paths=paths, settings=settings, wallet=wallet)
    services = AppServices(ctx, runtime=Runtime(paths, settings, network_key="devnet",
                                                tx_policy=FAST),
                           engine=smol_engine)  # the shared engine; not stopped by services
    ctx.engine = smol_engine
    ctx.extras[SERVICES_KEY] = services
    yield Gui(ctx, services, dev_account(CONSUMER_INDEX).address)
    await cancel_ui_ops()
    with contextlib.suppress(Exception):
        await services.stop()


