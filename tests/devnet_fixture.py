"""Shared pytest fixtures for a real local chain (anvil + the Morpheus contracts).

Use it from any test module::

    from tests.devnet_fixture import devnet, chain  # noqa: F401  (pytest fixtures)

``devnet`` is one anvil for the whole run (started lazily, stopped at exit, even when several
modules import it). ``chain`` wraps each test in ``evm_snapshot``/``evm_revert`` so tests can
mutate balances, time and contracts without seeing each other's changes. Chain time is reverted
too, but it may run ahead of the wall clock after time travel: build seconds-based approvals
from ``devnet.timestamp()``, not ``time.time()``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import keccak

from app.chain.devnet import Devnet, start_devnet

_DEVNET: Devnet | None = None


@pytest.fixture(scope="session")
def devnet(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Devnet:
    """One running devnet for the session (free port, temporary state folder)."""
    global _DEVNET
    if _DEVNET is None or _DEVNET.process is None:
        _DEVNET = start_devnet(tmp_path_factory.mktemp("devnet"))
        request.config.add_cleanup(_stop)
    return _DEVNET


def _stop() -> None:
    global _DEVNET
    if _DEVNET is not None:
        _DEVNET.stop()
        _DEVNET = None


def snapshot(devnet: Devnet) -> str:
    """``evm_snapshot``; pass the id to :func:`revert` to roll back state and time."""
    return devnet.snapshot()


def revert(devnet: Devnet, snapshot_id: str) -> None:
    devnet.revert(snapshot_id)


def _rolled_back(devnet: Devnet) -> Iterator[Devnet]:
    """The session devnet, rolled back to its state before the test when the test ends."""
    sid = snapshot(devnet)
    try:
        yield devnet
    finally:
        revert(devnet, sid)


chain = pytest.fixture(name="chain")(_rolled_back)
chain_snapshot = pytest.fixture(name="chain_snapshot")(_rolled_back)  # same, clearer beside
# fixtures that also hold a chain client called ``chain``


def encode_approval(bid_id: bytes, chain_id: int, user: str, timestamp: int) -> bytes:
    """Provider approval bytes for ``openSession`` (spec §4.1)."""
    return abi_encode(
        ["bytes32", "uint256", "address", "uint128"], [bid_id, chain_id, user, timestamp]
    )


def encode_receipt(
    session_id: bytes,
    chain_id: int,
    timestamp: int,
    tps_scaled1000: int = 0,
    ttft_ms: int = 0,
    input_tokens: int = 0,
    output_tokens: int = 0,
) -> bytes:
    """Close-out receipt in the Go node's 7-word layout (spec §4.2; the contract reads 5)."""
    return abi_encode(
        ["bytes32", "uint256", "uint128", "uint32", "uint32", "uint32", "uint32"],
        [session_id, chain_id, timestamp, tps_scaled1000, ttft_ms, input_tokens, output_tokens],
    )


def eip191_sign(private_key: bytes | str, message: bytes) -> bytes:
    """65-byte r‖s‖v (v 27/28) EIP-191 signature over keccak(message), as the contract checks."""
    signed = Account.sign_message(encode_defunct(primitive=keccak(message)), private_key)
    return bytes(signed.signature)
