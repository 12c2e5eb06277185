"""Identifier derivations of spec §3.1 (keccak256 over tight ``abi.encodePacked``).

Computed locally so a bid id or model id can be known without a round trip; tests check them
against the contract's own ``get…Id`` getters.
"""

from __future__ import annotations

from eth_utils import keccak, to_canonical_address

from app.market.types import id_bytes


def model_id(owner: str, base_model_id: bytes | str) -> str:
    return "0x" + keccak(to_canonical_address(owner) + id_bytes(base_model_id)).hex()


def provider_model_id(provider: str, model: bytes | str) -> str:
    return "0x" + keccak(to_canonical_address(provider) + id_bytes(model)).hex()


def bid_id(provider: str, model: bytes | str, nonce: int) -> str:
    packed = to_canonical_address(provider) + id_bytes(model) + nonce.to_bytes(32, "big")
    return "0x" + keccak(packed).hex()


def session_id(user: str, provider: str, bid: bytes | str, session_nonce: int) -> str:
    packed = (
        to_canonical_address(user)
        + to_canonical_address(provider)
        + id_bytes(bid)
        + session_nonce.to_bytes(32, "big")
    )
    return "0x" + keccak(packed).hex()
