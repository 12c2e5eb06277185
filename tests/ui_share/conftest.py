"""Share and Activity page fixtures: the real devnet, one real SmolLM2 engine (one thread, small
context) on the qasync loop the program runs on, and a GUI context per dev account: a wallet
imported from the account's key and unlocked, settings pointing at the devnet, and the program's
own ``AppServices`` (the same object the pages reach through ``services_of``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
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
from app.paths import AppPaths, app_paths
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
from tests.qt_async import qt_event_loop

FAST = TxPolicy(poll_interval=0.05, receipt_timeout=30.0, replace_after=30.0)
PROVIDER_INDEX = 7
CONSUMER_INDEX = 8
PASSWORD = "violet-harbour-engine-47-quiet"
FAST_N = 2**10


async def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    """Let the qasync loop run until ``condition()`` holds. (``qtbot.waitUntil`` would spin a
    nested Qt loop inside the running coroutine, where no other coroutine can make progress.)"""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.02)


def pytest_asyncio_loop_factories(config: Any, item: Any) -> dict[str, Any]:
    return {"qasync": qt_event_loop}


@dataclass
class Gui:
    """What the program builds at start for one wallet: context, wallet and services."""

    ctx: AppContext
    services: AppServices
    wallet: WalletService
    address: str
    paths: AppPaths


GuiFactory = Callable[..., Awaitable[Gui]]


@pytest_asyncio.fixture(loop_scope="module")
async def make_gui(
    chain_snapshot: Devnet, smol_engine: LocalEngine, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[GuiFactory]:
    made: list[Gui] = []

    async def make(index: int, *, unlocked: bool = True, with_devnet: bool = True) -> Gui:
        home = tmp_path / f"home-{index}"
        monkeypatch.setenv("MORPHEUS_HOME", str(home))  # network_file() reads it
        paths = app_paths().ensure()
        if with_devnet:
            nf = network_file()
            nf.parent.mkdir(parents=True, exist_ok=True)
            nf.write_text(json.dumps(chain_snapshot.network), encoding="utf-8")
        wallet = WalletService(paths, keystore_scrypt_n=FAST_N, seal_scrypt_n=FAST_N,
                               secrets=UnlockSecretStore(paths.wallet, paths.config))
        wallet.import_private_key(bytes(dev_account(index).key).hex(), PASSWORD)
        if not unlocked:
            wallet.lock()
        settings = Settings(network="devnet", provider_port=0)
        ctx = AppContext(paths=paths, settings=settings, wallet=wallet)
        services = AppServices(
            ctx, runtime=Runtime(paths, settings, network_key="devnet", tx_policy=FAST),
            engine=smol_engine,  # the shared one-thread engine (speed only); not stopped here
        )
        ctx.engine = smol_engine
        ctx.extras[SERVICES_KEY] = services
        gui = Gui(ctx, services, wallet, dev_account(index).address, paths)
        made.append(gui)
        return gui

    yield make
    for gui in made:
        with contextlib.suppress(Exception):
            await gui.services.stop()


@dataclass
class HeadlessConsumer:
    service: ConsumerService
    chain: ChainClient


@pytest_asyncio.fixture(loop_scope="module")
async def headless_consumer(
    chain_snapshot: Devnet, tmp_path: Path
) -> AsyncIterator[HeadlessConsumer]:
    """Another wallet's consumer, as ``morpheus chat`` runs it (no GUI)."""
    chain = ChainClient(network_from_dict(chain_snapshot.network), policy=FAST)
    await chain.connect()
    signer = LocalSigner(bytes(dev_account(CONSUMER_INDEX).key))
    home = tmp_path / "headless-consumer"
    home.mkdir()
    runner = TaskRunner(JobStore(home / "jobs.sqlite3"))
    consumer = ConsumerService(chain, signer, WalletNodeKey(signer), runner,
                               SessionStore(home / "sessions.sqlite3"))
    yield HeadlessConsumer(consumer, chain)
    await runner.stop()
    await chain.close()


@dataclass
class HeadlessProvider:
    service: ProviderService
    chain: ChainClient
    bid_id: str


@pytest_asyncio.fixture(loop_scope="module")
async def headless_provider(
    chain_snapshot: Devnet, smol_engine: LocalEngine, tmp_path: Path
) -> AsyncIterator[HeadlessProvider]:
    """Another wallet serving SmolLM2, as ``morpheus provider serve`` runs it; online."""
    chain = ChainClient(network_from_dict(chain_snapshot.network), policy=FAST)
    await chain.connect()
    signer = LocalSigner(bytes(dev_account(PROVIDER_INDEX).key))
    home = tmp_path / "headless-provider"
    home.mkdir()
    runner = TaskRunner(JobStore(home / "jobs.sqlite3"))
    provider = ProviderService(chain, signer, WalletNodeKey(signer), smol_engine, runner,
                               SessionStore(home / "sessions.sqlite3"), model_name=MODEL_NAME)
    bid_id = await provider.go_online(10**13)
    yield HeadlessProvider(provider, chain, bid_id)
    if provider.server is not None:
        await provider.server.stop()
    await chain.close()
