"""The signer that services hold instead of a key: it asks the wallet for the key at each use.

The wallet service is the only owner of the decrypted key. Consumer, provider and send flows get a
``WalletSigner`` bound to one address; while the wallet is locked every call raises
``WalletLocked`` (so locking once stops every signer at once, and unlocking resumes them all), and
a publicly known test key refuses to sign anywhere but on a devnet.
"""

from __future__ import annotations

from typing import Any, Protocol

from app.wallet.errors import WalletError
from app.wallet.known_keys import refuse_dev_key
from app.wallet.signer import LocalSigner


class KeyOwner(Protocol):
    """What a ``WalletSigner`` needs from the wallet service."""

    def active_key(self) -> LocalSigner:
        """The unlocked key, or ``WalletLocked``."""
        ...

    @property
    def chain_id(self) -> int | None:
        """The chain the program is on now (None when not yet known)."""
        ...


def _tx_chain_id(tx: dict[str, Any]) -> int | None:
    value = tx.get("chainId")
    if value is None:
        return None
    return int(value, 16) if isinstance(value, str) else int(value)


class WalletSigner:
    """A ``Signer`` (plus ``ecdh_x``) that holds an address, never a key."""

    def __init__(self, owner: KeyOwner, address: str, public_key: bytes | None = None) -> None:
        """``public_key`` may be unknown when the wallet is still locked (a job supervisor
        started at launch); it is then learnt from the key at first use."""
        self._owner = owner
        self._address = address
        self._pub = public_key

    def __repr__(self) -> str:
        return f"WalletSigner({self._address})"

    @property
    def address(self) -> str:
        return self._address

    @property
    def public_key_uncompressed(self) -> bytes:
        if self._pub is None:
            self._pub = bytes(self._key(signing=False).public_key_uncompressed)
        return self._pub

    def _key(self, chain_id: int | None = None, *, signing: bool = True) -> LocalSigner:
        key = self._owner.active_key()
        if key.address.lower() != self._address.lower():
            raise WalletError(
                f"The wallet switched to another account ({key.address}); this work was started "
                f"with {self._address}. Switch back to that account to go on."
            )
        if signing:
            refuse_dev_key(self._address, self._owner.chain_id if chain_id is None else chain_id)
        return key

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        chain_id = _tx_chain_id(tx)
        if chain_id is None:  # an unprotected transaction would be valid on every chain
            refuse_dev_key(self._address, None)
        return self._key(chain_id).sign_transaction(tx)

    def sign_message_hash(self, message_hash: bytes) -> bytes:
        return self._key().sign_message_hash(message_hash)

    def sign_raw_hash(self, digest: bytes) -> bytes:
        return self._key().sign_raw_hash(digest)

    def ecdh_x(self, public_key: bytes) -> bytes:
        return self._key(signing=False).ecdh_x(public_key)
