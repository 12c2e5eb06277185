"""What the welcome steps say, in plain words (no jargon: a test scans these)."""

from __future__ import annotations

TITLE = "Welcome to Morpheus"
WALLET = (
    "A wallet is your account on the Morpheus network: it holds your coins, and only you hold "
    "its keys."
)
MOR = (
    "MOR is the coin you pay with to use AI models that other people run (and earn by sharing "
    "your computer); you get it on an exchange or from someone who has it."
)
ETH = (
    "ETH pays the small network fee of each payment; a little is enough, and you get it the "
    "same way as MOR."
)
TRY_LOCAL = "Try a local model for free now"
TRY_LOCAL_HINT = (
    "No wallet and no coins needed: a small AI model runs on this computer. You can set up a "
    "wallet later on the Wallet page."
)
WALLET_CHOICE = "Or set up a wallet to use bigger models on the network:"
CREATE = "Create a new wallet"
RESTORE = "I already have a wallet"
SKIP = "Skip for now"
CANCEL = "Cancel"
NETWORK_INTRO = (
    "Your wallet is saved. Which network do you want to use? You can change it later in "
    "Settings."
)
DONE = "All set. Your wallet is ready."
OPEN_WALLET = "Open my wallet"
START_CHAT = "Start chatting"
NEW_EMPTY = "Your new wallet is empty. To pay for network models: "
RESTORED_FUNDING = (
    "If this wallet already holds MOR and ETH on this network, the Wallet page shows them. If "
    "it is empty: "
)
