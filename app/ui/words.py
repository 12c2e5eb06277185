"""Names the window shows for networks and long ids, in words a person who is not a developer
knows. Light on purpose (no web3): the status bar uses it before the first paint."""

from __future__ import annotations

from app.storage.settings import NETWORK_CHOICES

# Network names in the window: the settings' labels, except where they use a developer's word.
NETWORK_WORDS: dict[str, str] = {
    **dict(NETWORK_CHOICES),
    "devnet": "Practice network (this computer)",
}
NETWORK_HINTS: dict[str, str] = {
    "base": "The main network: real MOR and real ETH.",
    "base-sepolia": "A public test network: its MOR and ETH are free and worth nothing.",
    "arbitrum": "The older main network: real MOR and real ETH.",
    "arbitrum-sepolia": "The older public test network: free MOR and ETH worth nothing.",
    "devnet": "A practice network that runs only on this computer: nothing is real money.",
}


def network_name(key: str) -> str:
    """A network as the window names it ("No network" when there is none)."""
    return NETWORK_WORDS.get(key, key) or "No network"


def short_id(value: str) -> str:
    """An address, session or transaction id shortened for reading ("0x12ab…cd34"); the full
    value goes in a tooltip or a copy button."""
    value = value or ""
    return value if len(value) <= 14 else f"{value[:6]}…{value[-4:]}"
