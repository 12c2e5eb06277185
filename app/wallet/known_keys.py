"""Keys that everybody knows: the anvil/Hardhat development mnemonic and its first accounts.

Every tutorial, test chain and bot knows these keys, so anything sent to them on a real network is
taken within seconds. They may sign only on the local devnet.
"""

from __future__ import annotations

from functools import cache

from app.wallet.errors import TestKeyRefused

DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_ACCOUNT_COUNT = 20  # anvil creates 10 by default, Hardhat 20
#: Chain ids of local development chains (anvil and the devnet use 31337, Ganache 1337).
DEVNET_CHAIN_IDS = frozenset({31337, 1337})
_NAMES = {8453: "BASE", 84532: "BASE Sepolia", 42161: "Arbitrum One", 421614: "Arbitrum Sepolia",
          1: "Ethereum"}


@cache
def dev_addresses() -> frozenset[str]:
    """Lower-case addresses of the development mnemonic's first accounts (derived once)."""
    from app.wallet.hd import derive_addresses

    return frozenset(a.lower() for a in derive_addresses(DEV_MNEMONIC, DEV_ACCOUNT_COUNT))


def is_dev_address(address: str) -> bool:
    return address.lower() in dev_addresses()


def is_dev_mnemonic(phrase: str) -> bool:
    return " ".join(phrase.lower().split()) == DEV_MNEMONIC


def network_name(chain_id: int | None) -> str:
    if chain_id is None:
        return "an unknown network"
    return _NAMES.get(chain_id, f"the network with chain id {chain_id}")


def refuse_dev_key(address: str, chain_id: int | None) -> None:
    """Raise ``TestKeyRefused`` unless ``address`` is an ordinary key or the chain is a devnet."""
    if chain_id in DEVNET_CHAIN_IDS or not is_dev_address(address):
        return
    raise TestKeyRefused(
        f"This wallet ({address}) uses a public test key: the same key is built into every "
        f"developer's local test chain, so anyone can take money sent to it. It can only be used "
        f"on the local devnet, not on {network_name(chain_id)}. Nothing was signed. Create or "
        "import your own wallet to use a real network."
    )
