"""First-run wizard as a state machine (no Qt): welcome → create/import → password → network → done.

The Qt wizard only maps ``OnboardingFlow.step`` to a page and forwards button presses, so the whole
flow, including its error paths, is tested headlessly. The wallet is written as soon as the password
step succeeds: a user who closes the window at the network step keeps the wallet.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from app.logsetup import register_secret
from app.services.wallet_service import WalletService
from app.wallet.errors import InvalidMnemonic, WalletError, WeakPassword
from app.wallet.hd import ACCOUNT_PICKER_SIZE, derive_addresses
from app.wallet.keyring_store import StoreKind
from app.wallet.keystore import decrypt_keystore
from app.wallet.mnemonic import generate_mnemonic, validate_mnemonic
from app.wallet.password_strength import Strength, estimate_strength
from app.wallet.signer import LocalSigner, parse_private_key


class Step(Enum):
    WELCOME = "welcome"
    CREATE_SHOW = "create_show"
    CREATE_CONFIRM = "create_confirm"
    IMPORT = "import"
    PASSWORD = "password"
    NETWORK = "network"
    DONE = "done"


@dataclass(frozen=True)
class NetworkChoice:
    key: str
    label: str


# Keys are the values ``app.storage.settings.Settings.network`` accepts.
DEFAULT_NETWORKS: tuple[NetworkChoice, ...] = (
    NetworkChoice("base-mainnet", "BASE (main network, real MOR)"),
    NetworkChoice("base-sepolia", "BASE Sepolia (test network, free test MOR)"),
    NetworkChoice("devnet", "Local devnet (for development)"),
)


class OnboardingFlow:
    """The navigation map and the data gathered along the way."""

    def __init__(
        self,
        wallet: WalletService,
        *,
        networks: Sequence[NetworkChoice] = DEFAULT_NETWORKS,
        word_count: int = 12,
        rng: random.Random | None = None,
    ) -> None:
        self.wallet = wallet
        self.networks = tuple(networks)
        self.word_count = word_count
        self._rng = rng or random.SystemRandom()
        self.step = Step.WELCOME
        self._history: list[Step] = []
        self.mode: str | None = None  # "create" | "mnemonic" | "key" | "keystore"
        self._mnemonic: str | None = None
        self._key: bytes | None = None
        self.accounts: list[str] = []
        self.account_index = 0
        self.picked: list[str] = []
        self.choices: list[str] = []
        self.network: str | None = None
        self.keyring_notice: str | None = None
        self.store_kind: StoreKind | None = None

    # ----- navigation -------------------------------------------------------------------
    def _go(self, step: Step) -> None:
        self._history.append(self.step)
        self.step = step

    def can_go_back(self) -> bool:
        return bool(self._history) and self.step not in (Step.NETWORK, Step.DONE)

    def back(self) -> None:
        """Previous page; not past the point where the wallet was saved."""
        if not self.can_go_back():
            return
        self.step = self._history.pop()
        if self.step == Step.CREATE_CONFIRM:
            self.picked = []

    # ----- create -------------------------------------------------------------------------
    def choose_create(self) -> None:
        self._require(Step.WELCOME)
        # Said before the user writes down new words: a damaged wallet is restored, not replaced.
        self.wallet.refuse_overwrite()
        if self._mnemonic is None or self.mode != "create":
            self._mnemonic = generate_mnemonic(self.word_count)
            register_secret(self._mnemonic)
        self.mode, self._key = "create", None
        self.accounts = derive_addresses(self._mnemonic, 1)
        self.account_index = 0
        self._go(Step.CREATE_SHOW)

    @property
    def words(self) -> list[str]:
        """The new phrase's words (only while creating, before the wallet is saved)."""
        if self.mode != "create" or self._mnemonic is None:
            return []
        return self._mnemonic.split()

    def words_written_down(self) -> None:
        self._require(Step.CREATE_SHOW)
        self.picked = []
        self.choices = sorted(self.words, key=lambda _: self._rng.random())
        self._go(Step.CREATE_CONFIRM)

    def pick(self, word: str) -> bool:
        """Pick the next word of the phrase; a wrong pick is refused and changes nothing."""
        self._require(Step.CREATE_CONFIRM)
        expected = self.words[len(self.picked)] if len(self.picked) < len(self.words) else None
        if word != expected:
            return False
        self.picked.append(word)
        return True

    def unpick(self) -> None:
        if self.picked:
            self.picked.pop()

    @property
    def confirmed(self) -> bool:
        return self.mode == "create" and self.picked == self.words and bool(self.words)

    def confirm_done(self) -> None:
        self._require(Step.CREATE_CONFIRM)
        if not self.confirmed:
            raise InvalidMnemonic("Pick every word of your recovery phrase, in order.")
        self._go(Step.PASSWORD)

    # ----- import -------------------------------------------------------------------------
    def choose_import(self) -> None:
        self._require(Step.WELCOME)
        self._go(Step.IMPORT)

    def import_mnemonic(self, text: str) -> list[str]:
        """Check a phrase and list its first ten addresses for the account picker."""
        self._require(Step.IMPORT)
        phrase = validate_mnemonic(text)
        register_secret(phrase)
        self.mode, self._mnemonic, self._key = "mnemonic", phrase, None
        self.accounts = derive_addresses(phrase, ACCOUNT_PICKER_SIZE)
        self.account_index = 0
        return self.accounts

    def import_private_key(self, text: str) -> str:
        self._require(Step.IMPORT)
        key = parse_private_key(text)
        register_secret(key.hex())
        self.mode, self._key, self._mnemonic = "key", key, None
        self.accounts = [LocalSigner(key).address]
        self.account_index = 0
        return self.accounts[0]

    def import_keystore(self, text: str | bytes, keystore_password: str) -> str:
        self._require(Step.IMPORT)
        register_secret(keystore_password)
        key = decrypt_keystore(text, keystore_password)
        self.mode = "keystore"
        self._key, self._mnemonic = key, None
        self.accounts = [LocalSigner(key).address]
        self.account_index = 0
        return self.accounts[0]

    def choose_account(self, index: int) -> None:
        if not 0 <= index < len(self.accounts):
            raise WalletError("Choose one of the listed accounts.")
        self.account_index = index

    def import_done(self) -> None:
        self._require(Step.IMPORT)
        if self.mode not in ("mnemonic", "key", "keystore"):
            raise WalletError("Enter a recovery phrase, a private key or a keystore file first.")
        self._go(Step.PASSWORD)

    # ----- password ------------------------------------------------------------------------
    @staticmethod
    def strength(password: str) -> Strength:
        return estimate_strength(password)

    def set_password(self, password: str, confirm: str, *, remember: bool = False) -> None:
        """Check the password and save the wallet encrypted with it."""
        self._require(Step.PASSWORD)
        register_secret(password)
        if password != confirm:
            raise WeakPassword("The two passwords are not the same.")
        WalletService.check_new_password(password)
        if self.mode in ("create", "mnemonic"):
            assert self._mnemonic is not None
            kind = self.wallet.create_from_mnemonic(
                self._mnemonic, password, account_index=self.account_index, remember=remember,
                restore=self.mode == "mnemonic",  # a restored backup may replace a damaged file
            )
        elif self.mode in ("key", "keystore"):
            assert self._key is not None
            kind = self.wallet.import_private_key(self._key.hex(), password, remember=remember,
                                                  restore=True)
        else:
            raise WalletError("Create or import a wallet first.")
        self.store_kind = kind
        self.keyring_notice = kind.notice if kind is not None else None
        self._mnemonic, self._key = None, None  # the file holds them now, encrypted
        self.picked, self.choices = [], []
        self._go(Step.NETWORK)

    # ----- network ---------------------------------------------------------------------------
    def choose_network(self, key: str) -> None:
        self._require(Step.NETWORK)
        if key not in {n.key for n in self.networks}:
            raise WalletError(f"Unknown network {key!r}.")
        self.network = key
        self._go(Step.DONE)

    def _require(self, step: Step) -> None:
        if self.step != step:
            raise RuntimeError(f"onboarding is at {self.step.value}, not {step.value}")
