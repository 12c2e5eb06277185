"""First-run wizard as a state machine (no Qt): welcome → create/import → password → network → done.

The Qt wizard only maps ``OnboardingFlow.step`` to a page and forwards button presses, so the whole
flow, including its error paths, is tested headlessly. The wallet is written as soon as the password
step succeeds (one atomic file write): a user who quits before keeps nothing half-written, one who
closes the window at the network step keeps the wallet.

Also here: the plain words for each network. Whether this start is a first start
(``needs_welcome``, remembered in the settings file once the user finished or skipped the
welcome steps) is in :mod:`app.services.first_start`.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from app.errors import UserFacingError
from app.logsetup import register_secret
from app.wallet.errors import InvalidMnemonic, WalletError, WeakPassword

if TYPE_CHECKING:  # the key stack (eth_account, ~2 s cold) loads when a wallet step needs it,
    # so the first start's welcome page shows without waiting for it; the word lists and the
    # strength meter (~50 ms) likewise, since a returning user's start only asks needs_welcome
    from app.services.wallet_service import WalletService
    from app.wallet.keyring_store import StoreKind
    from app.wallet.password_strength import Strength


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
    """One network as a newcomer reads it: a name, what choosing it means, how to get coins."""

    key: str
    label: str
    meaning: str = ""
    funding: str = ""


PRACTICE = "devnet"
# Keys are the values ``app.storage.settings.Settings.network`` accepts.
DEFAULT_NETWORKS: tuple[NetworkChoice, ...] = (
    NetworkChoice(
        "base",
        "Base \u2014 the main network, real MOR and ETH",
        "Everything here is real money: MOR you buy pays for network models, and ETH pays the "
        "small fee for each payment. Choose this to use AI models run by other people.",
        "Buy MOR and a little ETH on the Base network at an exchange or in a wallet app, then "
        "send them to your address shown on the Wallet page. A few dollars of ETH covers many "
        "payments.",
    ),
    NetworkChoice(
        "base-sepolia",
        "Base Sepolia \u2014 public test network, free test coins",
        "Coins here have no value. Use it to learn how paying for models works without "
        "spending real money.",
        "Free test ETH comes from a Base Sepolia \u201cfaucet\u201d website and free test MOR "
        "from the Morpheus test faucet: give them your address shown on the Wallet page.",
    ),
    NetworkChoice(
        PRACTICE,
        "Practice network on this computer \u2014 free play money",
        "A private network that runs only on this computer; its coins are play money. Use it "
        "to try everything safely; nothing you do here reaches the real network.",
        "press \u201cGet free play money\u201d below: the practice network's own account sends "
        "play MOR and ETH to your wallet at once.",
    ),
)

def available_networks(data_dir: Path) -> tuple[NetworkChoice, ...]:
    """The choices this computer can use: the practice network only once it is set up here
    (its network file exists, see ``app.chain.devnet``)."""
    practice_ready = (data_dir / "devnet" / "network.json").exists()
    return tuple(n for n in DEFAULT_NETWORKS if n.key != PRACTICE or practice_ready)


# What "Get free play money" sends (the practice network's deployer keeps one account's share
# of play MOR, and anvil starts every built-in account with 10,000 play ETH).
PRACTICE_ETH = 10**18
PRACTICE_MOR = 100 * 10**18
PRACTICE_SOURCE = 0


class PracticeFundsError(UserFacingError):
    """Play money could not be sent (the practice network is not running or not set up)."""


def fund_from_practice_network(data_dir: Path, address: str) -> tuple[int, int]:
    """Send play ETH and MOR to ``address`` from the practice network's built-in account.

    Only the practice network (the local devnet, whose accounts are the public test keys it
    starts with) has such an account; blocking (web3), so the window runs it in a worker.
    Returns the (ETH, MOR) amounts sent, in wei."""
    import json

    from app.chain.devnet import Devnet, dev_account

    try:
        network = json.loads((data_dir / "devnet" / "network.json").read_text("utf-8"))
        rpc_url = str(network["rpcUrls"][0])
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise PracticeFundsError("The practice network is not set up on this computer.",
                                 detail=str(exc)) from exc
    devnet = Devnet(rpc_url=rpc_url, network=network, state_dir=data_dir / "devnet", pid=0)
    sender = dev_account(PRACTICE_SOURCE).address
    try:
        w3 = devnet.w3
        value = w3.to_wei(PRACTICE_ETH, "wei")
        sent = w3.eth.send_transaction({"from": sender, "to": address, "value": value})
        w3.eth.wait_for_transaction_receipt(sent, timeout=30)
        sent = devnet.token().functions.transfer(address, PRACTICE_MOR).transact({"from": sender})
        receipt = w3.eth.wait_for_transaction_receipt(sent, timeout=30)
    except Exception as exc:  # connection refused, timeout, a chain that is not the devnet
        raise PracticeFundsError(
            "The practice network does not answer. It runs only while it is started on this "
            "computer (the demo starts it); start it and try again.", detail=str(exc)
        ) from exc
    if receipt["status"] != 1:
        raise PracticeFundsError("The practice network refused to send play money.")
    return PRACTICE_ETH, PRACTICE_MOR


def network_choice(key: str, networks: Sequence[NetworkChoice] = DEFAULT_NETWORKS) -> NetworkChoice:
    for n in networks:
        if n.key == key:
            return n
    return NetworkChoice(key, key)


class OnboardingFlow:
    """The navigation map and the data gathered along the way."""

    def __init__(
        self,
        wallet: WalletService | Callable[[], WalletService],
        *,
        networks: Sequence[NetworkChoice] = DEFAULT_NETWORKS,
        word_count: int = 12,
        rng: random.Random | None = None,
    ) -> None:
        self._wallet = wallet  # or the function that makes it, called on first use
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
        self._saving = threading.Lock()  # one wallet, however often "Save" is pressed

    @property
    def wallet(self) -> WalletService:
        if callable(self._wallet):
            self._wallet = self._wallet()
        return self._wallet

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
        from app.wallet.hd import derive_addresses

        if self._mnemonic is None or self.mode != "create":
            from app.wallet.mnemonic import generate_mnemonic

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
        from app.wallet.hd import ACCOUNT_PICKER_SIZE, derive_addresses

        self._require(Step.IMPORT)
        from app.wallet.mnemonic import validate_mnemonic

        phrase = validate_mnemonic(text)
        register_secret(phrase)
        self.mode, self._mnemonic, self._key = "mnemonic", phrase, None
        self.accounts = derive_addresses(phrase, ACCOUNT_PICKER_SIZE)
        self.account_index = 0
        return self.accounts

    def import_private_key(self, text: str) -> str:
        from app.wallet.signer import LocalSigner, parse_private_key

        self._require(Step.IMPORT)
        key = parse_private_key(text)
        register_secret(key.hex())
        self.mode, self._key, self._mnemonic = "key", key, None
        self.accounts = [LocalSigner(key).address]
        self.account_index = 0
        return self.accounts[0]

    def import_keystore(self, text: str | bytes, keystore_password: str) -> str:
        from app.wallet.keystore import decrypt_keystore
        from app.wallet.signer import LocalSigner

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
        from app.wallet.password_strength import estimate_strength

        return estimate_strength(password)

    def set_password(self, password: str, confirm: str, *, remember: bool = False) -> None:
        """Check the password and save the wallet encrypted with it (once: a second call while
        the first one runs, or after it, is refused and writes nothing)."""
        if not self._saving.acquire(blocking=False):
            raise WalletError("Your wallet is already being saved.")
        try:
            self._set_password(password, confirm, remember=remember)
        finally:
            self._saving.release()

    def _set_password(self, password: str, confirm: str, *, remember: bool) -> None:
        from app.services.wallet_service import WalletService

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
