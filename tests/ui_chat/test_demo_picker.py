"""On a fresh ``make demo`` the network model must be in Chat's picker within 5 s of the window
showing (issue 16: it never appeared, because the page looked for the services before the status
bar's feed created them, and so never heard "wallet unlocked" or "chain connected").

Built as the launcher builds it: a remembered wallet that starts locked, the Chat page first, then
the status feed's work one loop turn later (create the services, connect, unlock automatically).
Real devnet, real providers serving the real SmolLM2, real widgets offscreen."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.chain.devnet import Devnet, dev_account, network_file
from app.inference.engine import LocalEngine
from app.paths import app_paths
from app.services.app_services import services_of
from app.services.context import AppContext
from app.services.wallet_service import WalletService
from app.storage.settings import Settings
from app.ui.chat_page import ChatPage
from app.wallet.keyring_store import UnlockSecretStore
from tests.qt_async import cancel_ui_ops
from tests.ui_chat.conftest import until
from tests.ui_remote.conftest import CONSUMER_INDEX, FAST_N, MODEL_NAME, PASSWORD, Providers

pytestmark = pytest.mark.asyncio(loop_scope="module")

NETWORK_LABEL = f"Network · {MODEL_NAME} · 2 providers"
DEADLINE_S = 5.0


def _wallet(home: Path) -> WalletService:
    paths = app_paths().ensure()
    secrets = UnlockSecretStore(paths.wallet, paths.config)
    secrets.use_file_only()
    return WalletService(paths, keystore_scrypt_n=FAST_N, seal_scrypt_n=FAST_N, secrets=secrets)


async def test_fresh_demo_shows_the_network_model_within_5_s(
    qtbot: QtBot, providers: Providers, chain_snapshot: Devnet, smol_engine: LocalEngine,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = tmp_path / "demo-home"
    monkeypatch.setenv("MORPHEUS_HOME", str(home))
    paths = app_paths().ensure()
    nf = network_file()
    nf.parent.mkdir(parents=True, exist_ok=True)
    nf.write_text(json.dumps(chain_snapshot.network), encoding="utf-8")
    # `morpheus demo` prepares a funded wallet that unlocks automatically...
    _wallet(home).import_private_key(bytes(dev_account(CONSUMER_INDEX).key).hex(), PASSWORD,
                                     remember=True)
    # ...and the program then starts with that wallet locked, nothing connected.
    wallet = _wallet(home)
    assert not wallet.is_unlocked
    ctx = AppContext(paths=paths, settings=Settings(network="devnet", provider_port=0),
                     wallet=wallet)
    ctx.engine = smol_engine  # the local model, as the launcher's lazy engine would give it
    page = ChatPage(ctx)
    qtbot.addWidget(page)
    page.resize(1000, 700)
    page.show()
    shown = time.monotonic()
    services = services_of(ctx)
    connected: asyncio.Future[object] | None = None

    def status_feed_starts() -> None:  # what launch's _start_status_feed does next
        nonlocal connected
        connected = asyncio.ensure_future(services_of(ctx).connect())

    asyncio.get_running_loop().call_soon(status_feed_starts)
    try:
        def labels() -> list[str]:
            return [page.model_picker.itemText(i) for i in range(page.model_picker.count())]

        await until(lambda: NETWORK_LABEL in labels(), page.sources_changed,
                    shown + DEADLINE_S)
        assert time.monotonic() - shown < DEADLINE_S
        assert labels() == [f"This computer · {MODEL_NAME}", NETWORK_LABEL]
        assert wallet.is_unlocked
    finally:
        await cancel_ui_ops()
        if connected is not None:
            with contextlib.suppress(Exception):
                await connected
        with contextlib.suppress(Exception):
            await services.stop()
