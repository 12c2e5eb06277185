"""One lock for the whole program: services hold a ``WalletSigner``, never the key, and the lock
that the window runs from launch (idle, sleep, screen lock) stops every signer at once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
from pytestqt.qtbot import QtBot

from app.chain.devnet import Devnet, dev_account
from app.paths import AppPaths
from app.services.app_services import AppServices
from app.services.context import AppContext
from app.services.node_identity import WalletNodeKey
from app.services.runtime import Runtime
from app.services.wallet_service import WalletService
from app.storage.settings import Settings
from app.wallet.errors import WalletError
from app.wallet.lock import WalletSigner
from app.wallet.locking import WalletLocked
from app.wallet.signer import recover_raw_hash_signer

Make = Callable[..., WalletService]
PASSWORD = "correct horse 42!"
FRIEND = "0x000000000000000000000000000000000000bEEF"


def test_signers_hold_no_key_and_all_stop_when_locked(make_service: Make) -> None:
    svc = make_service()
    svc.import_private_key("0x" + "11" * 32, PASSWORD)
    first, second = svc.signer, WalletNodeKey(svc.signer)
    assert isinstance(first, WalletSigner)
    assert "11" * 32 not in repr(vars(first)) and not hasattr(first, "private_key_bytes")
    digest = b"\x42" * 32
    assert recover_raw_hash_signer(digest, first.sign_raw_hash(digest)) == first.address

    svc.lock("locked by hand")
    for call in (lambda: first.sign_raw_hash(digest), lambda: second.sign_raw_hash(digest),
                 lambda: first.sign_message_hash(digest), lambda: second.ecies_decrypt(b"x")):
        with pytest.raises(WalletLocked) as err:
            call()
        assert "locked" in err.value.message
    assert first.address == svc.address  # public facts stay readable while locked

    svc.unlock(PASSWORD)  # the same signer objects resume
    assert recover_raw_hash_signer(digest, second.sign_raw_hash(digest)) == first.address


def test_background_signing_does_not_keep_the_wallet_unlocked(make_service: Make) -> None:
    now = [0.0]
    svc = make_service(idle_lock_seconds=60, clock=lambda: now[0])
    svc.import_private_key("0x" + "22" * 32, PASSWORD)
    signer = svc.signer
    for _ in range(3):
        now[0] += 30
        signer.sign_raw_hash(b"\x01" * 32)  # a provider answering prompts, nobody at the screen
    assert svc.check_idle() and not svc.is_unlocked
    assert "without use" in svc.lock_reason


def test_a_signer_of_another_account_refuses_after_a_switch(make_service: Make) -> None:
    from tests.wallet.test_wallet_service import PHRASE

    svc = make_service()
    svc.create_from_mnemonic(PHRASE, PASSWORD)
    old = svc.signer
    svc.select_account(1, PASSWORD)
    with pytest.raises(WalletError, match="switched to another account"):
        old.sign_raw_hash(b"\x01" * 32)


def _window_with_wallet(qtbot: QtBot, paths: AppPaths, wallet: WalletService) -> object:
    from app.ui.launch import build_main_window, create_application

    app = create_application([])
    window = build_main_window(app, paths, open_start_page_on_show=False)
    qtbot.addWidget(window)
    window.ctx.wallet = wallet
    return window


async def test_idle_lock_from_launch_stops_a_running_consumer_and_unlock_resumes(
    qtbot: QtBot, wallet_paths: AppPaths, chain: Devnet, make_service: Make
) -> None:
    (wallet_paths.data / "devnet").mkdir(parents=True, exist_ok=True)
    (wallet_paths.data / "devnet" / "network.json").write_text(json.dumps(chain.network))
    wallet = make_service(idle_lock_seconds=0.5)
    wallet.import_private_key("0x" + bytes(dev_account(4).key).hex(), PASSWORD)
    window = _window_with_wallet(qtbot, wallet_paths, wallet)
    window.wallet_lock.timer.setInterval(50)  # type: ignore[attr-defined]

    settings = Settings(network="devnet")
    ctx = window.ctx  # type: ignore[attr-defined]
    services = AppServices(ctx, runtime=Runtime(wallet_paths, settings, network_key="devnet"))
    try:
        consumer = await services.consumer()  # a running service, started while unlocked
        assert isinstance(consumer.signer, WalletSigner)
        before = chain.w3.eth.get_balance(FRIEND)

        await asyncio.wait_for(_until(lambda: not wallet.is_unlocked), 10)
        assert "wallet" not in window.pages  # type: ignore[attr-defined]  (never opened)
        with pytest.raises(WalletLocked):
            await consumer.chain.send_eth(consumer.signer, FRIEND, 10**15)
        with pytest.raises(WalletLocked):
            consumer.node_key.sign_raw_hash(b"\x07" * 32)
        assert chain.w3.eth.get_balance(FRIEND) == before  # nothing left the wallet

        wallet.unlock(PASSWORD)
        await consumer.chain.send_eth(consumer.signer, FRIEND, 10**15)
        assert chain.w3.eth.get_balance(FRIEND) == before + 10**15
    finally:
        await asyncio.wait_for(services.stop(), 30)


async def _until(cond: Callable[[], bool], step: float = 0.02) -> None:
    while not cond():
        await asyncio.sleep(step)


def test_sleep_and_screen_lock_lock_the_wallet(qtbot: QtBot, make_service: Make,
                                               wallet_paths: AppPaths) -> None:
    from app.ui.wallet_lock import SLEEP_GAP_S, WalletLockWatcher

    wallet = make_service()
    wallet.import_private_key("0x" + "33" * 32, PASSWORD)
    ctx = AppContext(paths=wallet_paths, settings=Settings())
    ctx.wallet = wallet
    wall, mono = [1000.0], [50.0]
    watcher = WalletLockWatcher(ctx, check_ms=10_000, wall_clock=lambda: wall[0],
                                monotonic=lambda: mono[0], use_dbus=False)
    wall[0] += 10
    mono[0] += 10
    watcher.check()
    assert wallet.is_unlocked  # time passing normally is not a sleep
    wall[0] += SLEEP_GAP_S + 600  # the lid was closed: wall time ran, monotonic time did not
    mono[0] += 1
    watcher.check()
    assert not wallet.is_unlocked and "asleep" in wallet.lock_reason

    wallet.unlock(PASSWORD)
    watcher.on_screen_saver(True)
    assert not wallet.is_unlocked and "screen" in wallet.lock_reason
    wallet.unlock(PASSWORD)
    watcher.on_prepare_for_sleep(False)  # waking up does not lock
    assert wallet.is_unlocked
    watcher.on_prepare_for_sleep(True)
    assert not wallet.is_unlocked


def test_typing_in_the_window_keeps_the_wallet_unlocked(
    qtbot: QtBot, wallet_paths: AppPaths, make_service: Make
) -> None:
    import time

    from PySide6.QtCore import Qt

    wallet = make_service(idle_lock_seconds=1.5)
    wallet.import_private_key("0x" + "44" * 32, PASSWORD)
    window = _window_with_wallet(qtbot, wallet_paths, wallet)
    window.wallet_lock.timer.setInterval(50)  # type: ignore[attr-defined]
    window.show()  # type: ignore[attr-defined]
    end = time.monotonic() + 3.5
    while time.monotonic() < end:  # someone working in the program for twice the idle time
        qtbot.keyClick(window, Qt.Key.Key_A)  # type: ignore[arg-type]
        qtbot.wait(150)  # the pace of a person typing, not a synchronisation
        assert wallet.is_unlocked
    qtbot.waitUntil(lambda: not wallet.is_unlocked, timeout=5000)  # then away: it locks


def test_the_wallet_opens_mor_rpc_messages_to_its_key_without_giving_the_key_out(
    make_service: Make,
) -> None:
    """ECIES to the wallet's key: the wallet does the ECDH, MOR-RPC the rest; a stream that
    reuses its ephemeral key, someone else's key, tampering and the lock all behave as before."""
    from app.p2p import crypto
    from app.p2p.errors import CryptoError
    from app.p2p.keys import LocalKey

    svc = make_service()
    svc.import_private_key("0x" + "22" * 32, PASSWORD)
    mine = WalletNodeKey(svc.signer)
    stream = crypto.EciesRecipient(mine.public_key_uncompressed, reuse_ephemeral=True)
    chunks = [f"token {i}".encode() for i in range(5)]
    assert [mine.ecies_decrypt(stream.encrypt(c)) for c in chunks] == chunks
    same_key = LocalKey(bytes.fromhex("22" * 32))  # the p2p's own key object agrees
    assert same_key.ecies_decrypt(stream.encrypt(b"hi")) == b"hi"

    other = crypto.ecies_encrypt(LocalKey(bytes.fromhex("33" * 32)).public_key_uncompressed, b"x")
    tampered = bytearray(stream.encrypt(b"secret"))
    tampered[70] ^= 1
    for bad in (other, bytes(tampered), b"\x04" * 50, b""):
        with pytest.raises(CryptoError):
            mine.ecies_decrypt(bad)

    svc.lock("locked by hand")
    with pytest.raises(WalletLocked):
        mine.ecies_decrypt(stream.encrypt(b"after the lock"))
