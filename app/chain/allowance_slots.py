"""Where ERC-20 tokens keep allowances, so a simulation can pretend an approval already exists
(an ``eth_call`` state override) before the user is asked to sign one."""

from __future__ import annotations

from eth_utils import keccak

ALLOWANCE_SELECTOR = bytes(keccak(text="allowance(address,address)"))[:4]
# Where ERC-20s keep ``mapping(owner => mapping(spender => amount))``: OpenZeppelin's plain ERC20
# (slot 1), a few other common layouts, and OpenZeppelin 5's namespaced upgradeable storage.
_OZ5_ERC20_STORAGE = 0x52C63247E1F47DB19D5CE0460030C497F067CA4CEBF71BA98EEADABE20BACE00
ALLOWANCE_SLOT_CANDIDATES = (1, 0, 2, 3, 4, 5, 51, 52, _OZ5_ERC20_STORAGE + 1)


def word(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def allowance_key(owner: str, spender: str, slot: int) -> str:
    """Storage key of ``allowances[owner][spender]`` for a mapping at ``slot``."""
    inner = keccak(bytes(12) + bytes.fromhex(owner[2:]) + slot.to_bytes(32, "big"))
    return "0x" + bytes(keccak(bytes(12) + bytes.fromhex(spender[2:]) + inner)).hex()
