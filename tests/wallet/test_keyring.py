"""\"Unlock automatically on this computer\" through real keyring backends: a keyring backend handed
to the store, and the encrypted-file fallback chosen when the OS has no keyring (as here)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail
from keyrings.cryptfile.file import PlaintextKeyring

from app.paths import AppPaths
from app.services.wallet_service import WalletService
from app.wallet.keyring_store import FALLBACK_NOTICE, UnlockSecretStore, system_keyring
from tests.wallet.secrets_seen import remember

PHRASE = "legal winner thank year wave sausage worth useful legal winner thank yellow"
PW = "Amber-Falcon-Meadow-77"
PW2 = "Seven silver kites at dawn"
remember(PHRASE, PW, PW2)


def test_this_machine_has_no_os_keyring_so_fallback_is_chosen(
    make_service: Callable[..., WalletService], wallet_paths: AppPaths
) -> None:
    # keyring.get_keyring() here is the chainer/file backends only; an OS keyring would be used.
    if system_keyring() is not None:  # pragma: no cover - depends on the machine
        store = UnlockSecretStore(wallet_paths.wallet, wallet_paths.config)
        assert store.kind().system
        return
    svc = make_service()
    kind = svc.create_from_mnemonic(PHRASE, PW, remember=True)
    assert kind is not None and not kind.system and kind.notice == FALLBACK_NOTICE
    secrets_file = svc.secrets.fallback_file
    assert secrets_file.exists()
    assert PW not in secrets_file.read_text()
    assert (secrets_file.stat().st_mode & 0o077) == 0
    # a new program start unlocks on its own
    fresh = make_service()
    assert not fresh.is_unlocked
    assert fresh.try_auto_unlock() and fresh.is_unlocked
    # a password change updates the remembered secret
    fresh.change_password(PW, PW2)
    again = make_service()
    assert again.try_auto_unlock()
    # turning it off forgets the secret
    again.set_remember(False)
    assert not make_service().try_auto_unlock()


def test_fail_backend_also_falls_back(wallet_paths: AppPaths) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        assert system_keyring() is None
        store = UnlockSecretStore(wallet_paths.wallet, wallet_paths.config)
        assert not store.kind().system
        store.save("0xAbC", "s3cret-value")
        assert UnlockSecretStore(wallet_paths.wallet, wallet_paths.config).load("0xabc") == (
            "s3cret-value"
        )
    finally:
        keyring.set_keyring(previous)


def test_given_keyring_backend_is_used_instead_of_the_file(
    make_service: Callable[..., WalletService], wallet_paths: AppPaths, tmp_path: Path
) -> None:
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "os-keyring.cfg")  # type: ignore[misc]
    store = UnlockSecretStore(wallet_paths.wallet, wallet_paths.config, backend=backend)
    svc = make_service(secrets=store)
    kind = svc.create_from_mnemonic(PHRASE, PW, remember=True)
    assert kind is not None and kind.system and kind.notice is None
    assert backend.get_password("MorpheusDesktop wallet", str(svc.address).lower()) == PW
    assert not store.fallback_file.exists()
    fresh = make_service(
        secrets=UnlockSecretStore(wallet_paths.wallet, wallet_paths.config, backend=backend)
    )
    assert fresh.try_auto_unlock()
    fresh.set_remember(False)
    assert backend.get_password("MorpheusDesktop wallet", str(svc.address).lower()) is None


def test_remember_needs_the_right_password(make_service: Callable[..., WalletService]) -> None:
    from app.wallet.errors import WrongPassword

    svc = make_service()
    svc.create_from_mnemonic(PHRASE, PW)
    with pytest.raises(WrongPassword):
        svc.set_remember(True, "wrong")
    assert not svc.remember_state()


def test_stale_remembered_secret_is_forgotten(make_service: Callable[..., WalletService]) -> None:
    svc = make_service()
    svc.create_from_mnemonic(PHRASE, PW, remember=True)
    svc.secrets.save(str(svc.address), "an old password")
    fresh = make_service()
    assert not fresh.try_auto_unlock()
    assert not fresh.remember_state()
