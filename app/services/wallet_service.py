"""The wallet use cases (create, import, unlock, send, history) shared by the GUI and the CLI.

No Qt here. The chain is reached through the small ``WalletChain`` protocol so that the wallet
can be tested against any real node adapter; secrets only ever leave ``app.wallet`` encrypted.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_utils import to_checksum_address

from app.fileio import make_private
from app.logsetup import register_secret
from app.paths import AppPaths
from app.services.wallet_sends import WalletSends
from app.services.wallet_types import (
    ETH_DECIMALS,
    Asset,
    Balances,
    FeeQuote,
    Listener,
    SendPreview,
    TxRecord,
    WalletChain,
)
from app.wallet import keystore as ks
from app.wallet import secretbox
from app.wallet.errors import (
    CorruptWalletFile,
    NoWallet,
    UnsupportedKeystore,
    WalletError,
    WalletExists,
    WalletLocked,
    WeakPassword,
    WrongPassword,
)
from app.wallet.keyring_store import StoreKind, UnlockSecretStore
from app.wallet.lock import WalletSigner
from app.wallet.mnemonic import validate_mnemonic
from app.wallet.password_strength import estimate_strength
from app.wallet.signer import LocalSigner, parse_private_key
from app.wallet.store import (
    DamagedWalletFile,
    ForeignWalletFile,
    WalletFile,
    damaged,
    damaged_copy,
    load_wallet_file,
    save_wallet_file,
)

# The data types live in wallet_types; callers keep importing them from here.
__all__ = ["ETH_DECIMALS", "Asset", "Balances", "FeeQuote", "SendPreview", "TxRecord",
           "WalletChain", "WalletService"]

log = logging.getLogger(__name__)


class WalletService(WalletSends):
    """One wallet file, its lock state and its sends."""

    def __init__(
        self,
        paths: AppPaths,
        *,
        chain: WalletChain | None = None,
        secrets: UnlockSecretStore | None = None,
        keystore_scrypt_n: int = ks.DEFAULT_SCRYPT_N,
        seal_scrypt_n: int = secretbox.DEFAULT_SCRYPT_N,
        idle_lock_seconds: float = 15 * 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.paths = paths
        self.chain = chain
        self.secrets = secrets or UnlockSecretStore(paths.wallet, paths.config)
        self._ks_n = keystore_scrypt_n
        self._seal_n = seal_scrypt_n
        self.idle_lock_seconds = idle_lock_seconds
        self._clock = clock
        self._signer: LocalSigner | None = None  # the only place the decrypted key lives
        self._last_activity = clock()
        self._listeners: list[Listener] = []
        self.lock_reason = ""  # why the wallet last locked itself, for the window to say
        #: The chain the program is on when no chain client is attached (the CLI sets it).
        self.network_chain_id: int | None = None
        self.notices: list[str] = []
        self._permissions_checked = False

    # ----- files and state -------------------------------------------------------------------
    @property
    def wallet_file(self) -> Path:
        return self.paths.wallet / "wallet.json"

    @property
    def history_file(self) -> Path:
        return self.paths.wallet / "transactions.json"

    def exists(self) -> bool:
        return bool(self.wallet_file.exists())

    def load(self) -> WalletFile:
        if not self._permissions_checked:
            self._permissions_checked = True
            self._fix_permissions()
        return load_wallet_file(self.wallet_file)

    def _fix_permissions(self) -> None:
        """Make every file holding key material owner-only; tell the user once if one was not."""
        files = [self.wallet_file, self.history_file, self.secrets.fallback_file,
                 self.secrets.fallback_key_file, self.paths.wallet]
        fixed, foreign = [], []
        for f in files:
            try:
                result = make_private(f)
            except OSError:
                result = None
            if result:
                fixed.append(f)
            elif result is None:
                foreign.append(f)
        if fixed:
            log.warning("made owner-only: %s", ", ".join(str(f) for f in fixed))
            self.notices.append(
                "Your wallet files could be read by other people using this computer. They are "
                "now readable only by you. (If someone else used this account, consider moving "
                "your funds to a new wallet.)"
            )
        if foreign:
            self.notices.append(
                "These wallet files can be read by others and belong to another user account, so "
                f"they could not be fixed: {', '.join(str(f) for f in foreign)}."
            )

    def take_notice(self) -> str | None:
        """One message the user has not seen yet (e.g. permissions just fixed), or None."""
        return self.notices.pop(0) if self.notices else None

    @property
    def address(self) -> str | None:
        if self._signer is not None:
            return self._signer.address
        try:
            return self.load().address
        except (NoWallet, CorruptWalletFile):
            return None

    @property
    def is_unlocked(self) -> bool:
        return self._signer is not None

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _emit(self, event: str) -> None:
        for cb in list(self._listeners):
            try:
                cb(event)
            except Exception:  # a broken listener must not break the wallet
                log.exception("wallet listener failed for %s", event)

    # ----- creating and importing ---------------------------------------------------------------
    @staticmethod
    def check_new_password(password: str, confirm: str | None = None) -> None:
        if confirm is not None and password != confirm:
            raise WeakPassword("The two passwords are not the same.")
        strength = estimate_strength(password)
        if not strength.acceptable:
            raise WeakPassword(f"This password is {strength.label}. {strength.hint}")

    def refuse_overwrite(self, *, restore: bool = False) -> None:
        """Refuse to write a new wallet over an existing one.

        ``restore``: the user is restoring from a backup (phrase, key, keystore); that may
        replace a *damaged* wallet file, whose copy is kept aside first. A new wallet never does:
        it would not bring back the money in the damaged one.
        """
        if not self.wallet_file.exists():
            return
        try:
            wf = self.load()
            if damaged_copy(self.wallet_file) is not None:  # found damaged when unlocking
                raise damaged(self.wallet_file, "found damaged before", hd=wf.kind == "hd")
        except DamagedWalletFile as exc:
            if restore:
                log.info("restoring over a damaged wallet file (a copy is kept)")
                return
            raise WalletExists(
                exc.message + " A new wallet would not bring back the money in the damaged one, "
                "so none was created.",
                detail=exc.detail,
            ) from exc
        except ForeignWalletFile as exc:
            raise WalletExists(exc.message) from exc
        except CorruptWalletFile as exc:
            raise WalletExists(exc.message) from exc
        raise WalletExists(
            f"A wallet already exists on this computer ({self.address}). Remove it first (after "
            "backing up its recovery phrase) to create or import another."
        )

    def _finish_new(
        self, wf: WalletFile, signer: LocalSigner, password: str, remember: bool
    ) -> StoreKind | None:
        save_wallet_file(self.wallet_file, wf)
        self._signer = signer
        self.touch()
        log.info("wallet saved for %s (%s)", wf.address, wf.kind)
        kind = self.set_remember(True, password) if remember else None
        self._emit("unlocked")
        return kind

    def create_from_mnemonic(
        self,
        phrase: str,
        password: str,
        *,
        account_index: int = 0,
        passphrase: str = "",
        remember: bool = False,
        restore: bool = False,
    ) -> StoreKind | None:
        """Save a wallet for ``phrase`` (new or imported); says where a remembered secret went.

        ``restore``: the phrase is a backup being restored, which may replace a damaged file.
        """
        self.refuse_overwrite(restore=restore)
        canonical = validate_mnemonic(phrase)
        register_secret(canonical)
        register_secret(password)
        self.check_new_password(password)
        from app.wallet.hd import ACCOUNT_PICKER_SIZE, derive_account, derive_addresses

        acct = derive_account(canonical, account_index, passphrase)
        key = bytes(acct.key)
        payload = json.dumps({"mnemonic": canonical, "passphrase": passphrase}).encode()
        wf = WalletFile(
            kind="hd",
            address=acct.address,
            keystore=ks.encrypt_keystore(key, password, scrypt_n=self._ks_n),
            seed=secretbox.seal(payload, password, scrypt_n=self._seal_n),
            account_index=account_index,
            accounts=derive_addresses(canonical, ACCOUNT_PICKER_SIZE, passphrase),
        )
        return self._finish_new(wf, LocalSigner(key), password, remember)

    def import_private_key(
        self, key_text: str, password: str, *, remember: bool = False, restore: bool = False
    ) -> StoreKind | None:
        self.refuse_overwrite(restore=restore)
        register_secret(password)
        key = parse_private_key(key_text)
        self.check_new_password(password)
        signer = LocalSigner(key)
        wf = WalletFile(
            kind="key",
            address=signer.address,
            keystore=ks.encrypt_keystore(key, password, scrypt_n=self._ks_n),
            accounts=[signer.address],
        )
        return self._finish_new(wf, signer, password, remember)

    def import_keystore(
        self,
        keystore_json: str | bytes,
        keystore_password: str,
        password: str | None = None,
        *,
        remember: bool = False,
        restore: bool = False,
    ) -> StoreKind | None:
        """Import a geth/MetaMask V3 keystore; the wallet password defaults to the keystore's."""
        self.refuse_overwrite(restore=restore)
        register_secret(keystore_password)
        key = ks.decrypt_keystore(keystore_json, keystore_password)
        return self.import_private_key(key.hex(), password or keystore_password,
                                       remember=remember, restore=restore)

    def _decrypt(self, wf: WalletFile, password: str) -> bytes:
        """The active key; a damaged keystore is named as such, not taken for a wrong password.

        The keystore's MAC fails alike for a wrong password and for damaged bytes. A wallet made
        from a phrase also holds the phrase sealed under the same password: when that opens, the
        password was right and the keystore is what is damaged.
        """
        hd = wf.kind == "hd"
        try:
            key = ks.decrypt_keystore(wf.keystore, password)
        except WrongPassword:
            if wf.seed is not None:
                try:
                    secretbox.unseal(wf.seed, password)
                except (WrongPassword, CorruptWalletFile):
                    pass
                else:
                    raise damaged(self.wallet_file, "the encrypted key fails its check", hd=hd)
            raise WrongPassword() from None
        except (CorruptWalletFile, UnsupportedKeystore) as exc:
            raise damaged(self.wallet_file, f"encrypted key: {exc.message}", hd=hd) from exc
        if LocalSigner(key).address != wf.address:
            raise damaged(self.wallet_file, "the key does not match the address", hd=hd)
        return key

    # ----- locking -------------------------------------------------------------------------
    def unlock(self, password: str) -> str:
        register_secret(password)
        wf = self.load()
        signer = LocalSigner(self._decrypt(wf, password))
        self._signer = signer
        self.touch()
        self._emit("unlocked")
        return signer.address

    def try_auto_unlock(self) -> bool:
        """Unlock with the remembered secret, if the user asked for that; False otherwise."""
        addr = self.address
        if addr is None:
            return False
        secret = self.secrets.load(addr)
        if not secret:
            return False
        try:
            self.unlock(secret)
        except WrongPassword:
            log.warning("the remembered wallet password no longer works; forgetting it")
            self.secrets.forget(addr)
            return False
        return True

    def lock(self, reason: str = "") -> None:
        """Forget the key: every ``WalletSigner`` handed out stops signing at once."""
        if self._signer is not None:
            self._signer = None
            self.lock_reason = reason
            log.info("wallet locked%s", f" ({reason})" if reason else "")
            self._emit("locked")

    def touch(self) -> None:
        self._last_activity = self._clock()

    def check_idle(self) -> bool:
        """Lock if nothing used the wallet for ``idle_lock_seconds``; True when it just locked."""
        if self._signer is None or self.idle_lock_seconds <= 0:
            return False
        if self._clock() - self._last_activity >= self.idle_lock_seconds:
            minutes = max(1, round(self.idle_lock_seconds / 60))
            self.lock(f"locked after {minutes} minute{'s' if minutes != 1 else ''} without use")
            return True
        return False

    @property
    def chain_id(self) -> int | None:
        return self.chain.chain_id if self.chain is not None else self.network_chain_id

    def active_key(self) -> LocalSigner:
        """The unlocked key, for ``WalletSigner`` only; ``WalletLocked`` while locked."""
        if self._signer is None:
            raise WalletLocked()
        return self._signer

    @property
    def signer(self) -> WalletSigner:
        """A signer for the active account that never holds the key (``WalletLocked`` if locked).

        Asking for it counts as the user using the wallet; the signatures it makes later do not,
        so background work cannot keep the wallet unlocked.
        """
        key = self.active_key()
        self.touch()
        return WalletSigner(self, key.address, key.public_key_uncompressed)

    def standing_signer(self) -> WalletSigner:
        """The active account's signer even while the wallet is locked: background jobs hold it
        and wait on ``WalletLocked`` until the user unlocks (it never counts as use)."""
        address = self.address
        if not address:
            raise NoWallet()
        pub = self._signer.public_key_uncompressed if self._signer is not None else None
        return WalletSigner(self, to_checksum_address(address), pub)

    def remember_state(self) -> bool:
        addr = self.address
        return bool(addr and self.secrets.load(addr))

    def set_remember(self, enabled: bool, password: str | None = None) -> StoreKind | None:
        """Turn "unlock automatically on this computer" on (needs the password) or off."""
        wf = self.load()
        if not enabled:
            self.secrets.forget(wf.address)
            return None
        if password is None:
            raise WrongPassword("Enter your password to turn on automatic unlock.")
        self._decrypt(wf, password)  # proves the password before storing it
        return self.secrets.save(wf.address, password)

    # ----- secrets behind the password -------------------------------------------------------
    def change_password(self, old: str, new: str, confirm: str | None = None) -> None:
        register_secret(old)
        register_secret(new)
        wf = self.load()
        key = self._decrypt(wf, old)
        seed_plain = secretbox.unseal(wf.seed, old) if wf.seed is not None else None
        self.check_new_password(new, confirm)
        wf.keystore = ks.encrypt_keystore(key, new, scrypt_n=self._ks_n)
        if seed_plain is not None:
            wf.seed = secretbox.seal(seed_plain, new, scrypt_n=self._seal_n)
        save_wallet_file(self.wallet_file, wf)
        if self.secrets.load(wf.address):
            self.secrets.save(wf.address, new)
        self._emit("changed")

    def _seed(self, password: str) -> tuple[str, str]:
        register_secret(password)
        wf = self.load()
        if wf.seed is None:
            raise WalletError(
                "This wallet was imported from a single private key, so it has no recovery "
                "phrase. Export it as a keystore file to back it up."
            )
        try:
            data = json.loads(secretbox.unseal(wf.seed, password))
            return str(data["mnemonic"]), str(data.get("passphrase", ""))
        except WrongPassword:
            self._decrypt(wf, password)  # raises WrongPassword when that is what it is
            why = "the sealed recovery phrase fails its check"
        except (CorruptWalletFile, ValueError, KeyError, TypeError) as exc:
            why = f"the sealed recovery phrase is unreadable ({type(exc).__name__})"
        raise damaged(self.wallet_file, why, hd=True)

    def reveal_mnemonic(self, password: str) -> str:
        phrase, _ = self._seed(password)
        register_secret(phrase)
        return phrase

    def export_keystore(self, password: str, export_password: str | None = None) -> dict[str, Any]:
        """The active key as a V3 keystore (MetaMask/geth can import it)."""
        register_secret(password)
        wf = self.load()
        key = self._decrypt(wf, password)
        if export_password is None or export_password == password:
            return dict(wf.keystore)
        register_secret(export_password)
        return ks.encrypt_keystore(key, export_password, scrypt_n=self._ks_n)

    def accounts(self) -> list[str]:
        return list(self.load().accounts)

    def select_account(self, index: int, password: str) -> str:
        """Switch to account ``index`` of the recovery phrase (re-encrypts the active key)."""
        phrase, passphrase = self._seed(password)
        wf = self.load()
        from app.wallet.hd import derive_account, derive_addresses  # eth_account: not at idle

        acct = derive_account(phrase, index, passphrase)
        wf.account_index = index
        wf.address = acct.address
        wf.keystore = ks.encrypt_keystore(bytes(acct.key), password, scrypt_n=self._ks_n)
        if index >= len(wf.accounts):
            wf.accounts = derive_addresses(phrase, index + 1, passphrase)
        remembered = self.secrets.load(self.address or "")
        save_wallet_file(self.wallet_file, wf)
        if remembered:
            self.secrets.save(wf.address, password)
        self._signer = LocalSigner(bytes(acct.key))
        self.touch()
        self._emit("changed")
        return wf.address

    def require_address(self) -> str:
        """The wallet's address, or the reason there is none (no wallet, a damaged file)."""
        if self._signer is not None:
            return self._signer.address
        return self.load().address
