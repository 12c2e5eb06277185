"""The status bar follows the running program: block height from a real devnet through the
program's own AppServices, wallet state from a real WalletService, on the qasync loop."""

from __future__ import annotations

import asyncio
import json

import qasync

from app.chain.devnet import Devnet, dev_account, network_file
from app.services.wallet_service import WalletService
from app.ui import launch
from app.ui.status_feed import StatusFeed, wallet_state
from app.wallet.keyring_store import UnlockSecretStore
from tests.devnet_fixture import devnet  # noqa: F401  (fixture)

FAST_N = 2**10
PASSWORD = "violet-harbour-engine-47-quiet"


def test_status_bar_shows_devnet_block_and_wallet_state(
    make_window,
    devnet: Devnet,  # noqa: F811
    paths,
    qapp,
):
    nf = network_file(paths.data / "devnet")
    nf.parent.mkdir(parents=True, exist_ok=True)
    nf.write_text(json.dumps(devnet.network), encoding="utf-8")
    window = make_window()
    window.store.update(network="devnet")
    window.show()
    wallet = WalletService(
        paths,
        keystore_scrypt_n=FAST_N,
        seal_scrypt_n=FAST_N,
        secrets=UnlockSecretStore(paths.wallet, paths.config),
    )
    window.ctx.wallet = wallet

    async def scenario() -> None:
        got_block = asyncio.Event()
        window.status_model.block_changed.connect(lambda _h: got_block.set())
        feed = StatusFeed(window)
        assert window.wallet_status.text() == "No wallet"
        await asyncio.wait_for(got_block.wait(), 30)
        height = window.status_model.block
        assert isinstance(height, int) and height >= 1
        assert window.block_status.text() == f"Block {height:,}"
        assert window.network_status.text() == "Practice network (this computer)"

        wallet.import_private_key(bytes(dev_account(5).key).hex(), PASSWORD)
        feed.refresh_wallet()  # the feed also polls; call it to not wait a tick
        assert window.wallet_status.text() == "Wallet unlocked"
        wallet.lock()
        feed.refresh_wallet()
        assert window.wallet_status.text() == "Wallet locked"

        # Switching network drops the old height at once.
        window.store.update(network="base-sepolia")
        assert window.block_status.text() == "Not connected"
        await launch._shut_down(window.ctx)  # runs AppServices.stop, registered by the feed
        assert feed.services._watch is None

    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(scenario())
    finally:
        loop.close()
        asyncio.set_event_loop(None)


def test_wallet_state_of_missing_or_broken_wallet():
    class Broken:
        @property
        def is_unlocked(self) -> bool:
            raise OSError("disk gone")

    assert wallet_state(None) == "none"
    assert wallet_state(Broken()) == "none"
