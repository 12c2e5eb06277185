"""The wallet use cases (create, import, unlock, send, history) shared by the GUI and the CLI.

No Qt here. The chain is reached through the small ``WalletChain`` protocol so that the wallet
can be tested against any real node adapter; secrets only ever leave ``app.wallet`` encrypted.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from app.fileio import atomic_write_text
from app.logsetup import register_secret
from app.paths import AppPaths
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
    InsufficientFunds,
    InsufficientGas,
    InvalidAmount,
    NoWallet,
    WalletError,
    WalletExists,
    WalletLocked,
    WeakPassword,
    WrongPassword,
)
from app.wallet.hd import ACCOUNT_PICKER_SIZE, derive_account, derive_addresses
from app.wallet.keyring_store import StoreKind, UnlockSecretStore
from app.wallet.known_keys import refuse_dev_key
from app.wallet.lock import WalletSigner
from app.wallet.mnemonic import validate_mnemonic
from app.wallet.password_strength import estimate_strength
from app.wallet.signer import LocalSigner, parse_private_key
from app.wallet.store import WalletFile, load_wallet_file, save_wallet_file
from app.wallet.units import format_amount, parse_amount, validate_address

# The data types live in wallet_types; callers keep importing them from here.
__all__ = ["ETH_DECIMALS", "Asset", "Balances", "FeeQuote", "SendPreview", "TxRecord",
           "WalletChain", "WalletService"]

log = logging.getLogger(__name__)


class WalletService:
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

    # ----- files and state -------------------------------------------------------------------
    @property
    def wallet_file(self) -> Any:
        return self.paths.wallet / "wallet.json"

    @property
    def history_file(self) -> Any:
        return self.paths.wallet / "transactions.json"

    def exists(self) -> bool:
        return bool(self.wallet_file.exists())

    def load(self) -> WalletFile:
        return load_wallet_file(self.wallet_file)

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

    def _refuse_overwrite(self) -> None:
        if self.wallet_file.exists():
            raise WalletExists(
                "A wallet already exists on this computer. Remove it first (after backing up "
                "its recovery phrase) to create or import another."
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
    ) -> StoreKind | None:
        """Save a wallet for ``phrase`` (new or imported); says where a remembered secret went."""
        self._refuse_overwrite()
        canonical = validate_mnemonic(phrase)
        register_secret(canonical)
        register_secret(password)
        self.check_new_password(password)
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
        self, key_text: str, password: str, *, remember: bool = False
    ) -> StoreKind | None:
        self._refuse_overwrite()
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
    ) -> StoreKind | None:
        """Import a geth/MetaMask V3 keystore; the wallet password defaults to the keystore's."""
        self._refuse_overwrite()
        register_secret(keystore_password)
        key = ks.decrypt_keystore(keystore_json, keystore_password)
        return self.import_private_key(key.hex(), password or keystore_password, remember=remember)

    @staticmethod
    def _decrypt(wf: WalletFile, password: str) -> bytes:
        try:
            return ks.decrypt_keystore(wf.keystore, password)
        except WrongPassword:
            raise WrongPassword() from None

    # ----- locking -------------------------------------------------------------------------
    def unlock(self, password: str) -> str:
        register_secret(password)
        wf = self.load()
        key = self._decrypt(wf, password)
        signer = LocalSigner(key)
        if signer.address != wf.address:
            raise CorruptWalletFile("The wallet file's key does not match its address.")
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
        data = json.loads(secretbox.unseal(wf.seed, password))
        return str(data["mnemonic"]), str(data.get("passphrase", ""))

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

    # ----- balances and sending ----------------------------------------------------------------
    def _chain(self) -> WalletChain:
        if self.chain is None:
            raise WalletError("Not connected to a network yet. Check the network settings.")
        return self.chain

    def _require_address(self) -> str:
        addr = self.address
        if addr is None:
            raise NoWallet()
        return addr

    async def balances(self, address: str | None = None) -> Balances:
        chain = self._chain()
        addr = address or self._require_address()
        return Balances(
            await chain.eth_balance(addr), await chain.mor_balance(addr), await chain.mor_decimals()
        )

    async def _decimals(self, asset: Asset) -> int:
        return ETH_DECIMALS if asset == "ETH" else await self._chain().mor_decimals()

    async def max_sendable(self, asset: Asset, to: str | None = None) -> int:
        """The most that can be sent: the whole MOR balance, or the ETH balance minus the fee."""
        chain = self._chain()
        addr = self._require_address()
        if asset == "MOR":
            return await chain.mor_balance(addr)
        bal = await chain.eth_balance(addr)
        fee = await chain.estimate_fee("ETH", addr, to or addr, bal)
        return max(0, bal - fee.max_cost)

    async def prepare_send(self, asset: Asset, to_text: str, amount_text: str) -> SendPreview:
        """Check everything the user typed and price the transaction; nothing is sent."""
        chain = self._chain()
        sender = self._require_address()
        to = validate_address(to_text)
        decimals = await self._decimals(asset)
        amount = parse_amount(amount_text, decimals, asset)
        if amount <= 0:
            raise InvalidAmount("Enter an amount greater than zero.")
        eth_bal = await chain.eth_balance(sender)
        asset_bal = eth_bal if asset == "ETH" else await chain.mor_balance(sender)
        if amount > asset_bal:
            missing = amount - asset_bal
            raise InsufficientFunds(
                f"You are trying to send {format_amount(amount, decimals)} {asset}, but the "
                f"balance is only {format_amount(asset_bal, decimals)} {asset} "
                f"({format_amount(missing, decimals)} {asset} missing). Nothing was sent.",
                missing=missing,
            )
        fee = await chain.estimate_fee(asset, sender, to, amount)
        return SendPreview(asset, sender, to, amount, decimals, fee, eth_bal, asset_bal)

    async def send(self, preview: SendPreview) -> TxRecord:
        if preview.gas_missing:
            raise InsufficientGas(
                (preview.gas_warning() or "") + " Nothing was sent.", missing=preview.gas_missing
            )
        chain = self._chain()
        signer = self.signer
        if signer.address != preview.sender:
            raise WalletError("The active account changed; review the transfer again.")
        refuse_dev_key(signer.address, chain.chain_id)
        if preview.asset == "ETH":
            tx_hash = await chain.send_eth(signer, preview.to, preview.amount, preview.fee)
        else:
            tx_hash = await chain.send_mor(signer, preview.to, preview.amount, preview.fee)
        rec = TxRecord(
            tx_hash,
            chain.chain_id,
            preview.asset,
            preview.sender,
            preview.to,
            preview.amount,
            preview.fee.max_cost,
        )
        log.info("sent %s transfer %s", preview.asset, tx_hash)
        self._save_history([rec, *self._load_history()])
        self._emit("history")
        return rec

    # ----- history -------------------------------------------------------------------------
    def _load_history(self) -> list[TxRecord]:
        try:
            data = json.loads(self.history_file.read_text(encoding="utf-8"))
            return [TxRecord.from_json(d) for d in data]
        except FileNotFoundError:
            return []
        except (ValueError, KeyError, TypeError):
            log.warning("transaction history file unreadable; showing an empty list")
            return []

    def _save_history(self, records: list[TxRecord]) -> None:
        atomic_write_text(self.history_file, json.dumps([r.to_json() for r in records], indent=1))

    def history(self) -> list[TxRecord]:
        """Transfers sent from this wallet on the current chain, newest first."""
        recs = self._load_history()
        if self.chain is not None:
            recs = [r for r in recs if r.chain_id == self.chain.chain_id]
        return recs

    async def mor_transfers(self) -> list[Any]:
        """MOR in and out of this address as the chain records it (``MorTransfer`` rows); empty
        when the chain adapter cannot list token events."""
        chain = self._chain()
        lister = getattr(chain, "mor_transfers", None)
        if lister is None:
            return []
        result: list[Any] = await lister(self._require_address())
        return result

    async def refresh_pending(self) -> list[TxRecord]:
        chain = self._chain()
        recs = self._load_history()
        changed = False
        for r in recs:
            if r.status == "pending" and r.chain_id == chain.chain_id:
                status = await chain.transaction_status(r.tx_hash)
                if status != r.status:
                    r.status = status
                    changed = True
        if changed:
            self._save_history(recs)
            self._emit("history")
        return [r for r in recs if r.chain_id == chain.chain_id]

    def explorer_tx_url(self, tx_hash: str) -> str | None:
        base = self.chain.explorer_url if self.chain is not None else None
        return f"{base.rstrip('/')}/tx/{tx_hash}" if base else None
