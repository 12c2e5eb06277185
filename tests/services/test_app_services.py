"""Starting the program with "unlock automatically" on: whatever page is open, the wallet is
unlocked once the chain is connected, so network models show up without visiting the Wallet page."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from app.chain.devnet import Devnet, dev_account
from app.paths import AppPaths
from app.services.app_services import AppServices
from app.services.context import AppContext
from app.services.runtime import Runtime
from app.services.wallet_service import WalletService
from app.storage.settings import Settings
from tests.devnet_fixture import devnet  # noqa: F401  (fixture)


async def test_connect_attaches_wallet_and_unlocks_a_remembered_wallet(
    devnet: Devnet, tmp_path: Path  # noqa: F811
) -> None:
    paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "l", tmp_path / "x").ensure()
    (paths.data / "devnet").mkdir(parents=True)
    (paths.data / "devnet" / "network.json").write_text(json.dumps(devnet.network))
    setup = WalletService(paths, keystore_scrypt_n=2**10, seal_scrypt_n=2**10)
    setup.import_private_key("0x" + bytes(dev_account(2).key).hex(), "correct horse 42!",
                             remember=True)

    settings = Settings(network="devnet")
    ctx = AppContext(paths=paths, settings=settings)  # a fresh start: nothing unlocked yet
    services = AppServices(ctx, runtime=Runtime(paths, settings, network_key="devnet"))
    events: list[str] = []
    unlocked = asyncio.Event()

    def listen(what: str) -> None:
        events.append(what)
        if what == "wallet" and ctx.wallet is not None and ctx.wallet.is_unlocked:
            unlocked.set()

    services.on_change(listen)
    try:
        assert await services.connect() is not None
        await asyncio.wait_for(unlocked.wait(), 30)
        assert ctx.wallet is not None and ctx.wallet.address == dev_account(2).address
        assert ctx.wallet.chain is not None  # the wallet sends through the shared client
        consumer = await services.consumer()
        assert consumer.user == dev_account(2).address
        assert "chain" in events
    finally:
        await asyncio.wait_for(services.stop(), 30)


async def test_pages_connecting_at_once_start_one_supervisor(
    devnet: Devnet, tmp_path: Path, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    """Chat and Wallet both connect at launch: one job supervisor runs, and neither call is
    told that background payments "are already run by another process"."""
    paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "l", tmp_path / "x").ensure()
    (paths.data / "devnet").mkdir(parents=True)
    (paths.data / "devnet" / "network.json").write_text(json.dumps(devnet.network))
    setup = WalletService(paths, keystore_scrypt_n=2**10, seal_scrypt_n=2**10)
    setup.import_private_key("0x" + bytes(dev_account(3).key).hex(), "correct horse 42!")
    settings = Settings(network="devnet")
    ctx = AppContext(paths=paths, settings=settings, wallet=setup)
    services = AppServices(ctx, runtime=Runtime(paths, settings, network_key="devnet"))
    try:
        await asyncio.gather(services.start_supervisor(), services.start_supervisor())
        await services.connect()
        assert services.supervisor is not None
        assert services.supervisor_error == ""
        assert "background payments not started" not in caplog.text
    finally:
        await asyncio.wait_for(services.stop(), 30)
