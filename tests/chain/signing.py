"""Provider approvals and close-out receipts (spec §4), signed the way the contract checks them.

Test-only helpers: the p2p layer has its own production code for this; here we need exact
control (expired timestamps, other chain ids, user-signed receipts) to drive the contract."""

from __future__ import annotations

from eth_abi import encode
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from app.market.types import id_bytes


def approval(bid_id: str, chain_id: int, user: str, timestamp: int) -> bytes:
    return encode(["bytes32", "uint256", "address", "uint128"],
                  [id_bytes(bid_id), chain_id, user, timestamp])


def receipt(session_id: str, chain_id: int, timestamp: int, tps1000: int = 10_000,
            ttft_ms: int = 200) -> bytes:
    return encode(["bytes32", "uint256", "uint128", "uint32", "uint32"],
                  [id_bytes(session_id), chain_id, timestamp, tps1000, ttft_ms])


def sign(signer: LocalAccount, payload: bytes) -> bytes:
    signed = Account.sign_message(encode_defunct(primitive=keccak(payload)), signer.key)
    return bytes(signed.signature)
