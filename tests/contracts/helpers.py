"""Small helpers for driving the devnet contracts with web3.py in tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from app.chain.devnet import Devnet
from app.market.economics import Economics, Pool
from tests.devnet_fixture import eip191_sign, encode_approval

MOR = 10**18
GAS = 3_000_000
DAY = 86_400


def selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


def send(fn: Any, sender: str) -> Any:
    """Transact and wait; the receipt must succeed.

    Gas is fixed: web3 estimates at "latest", whose timestamp differs from the next block's after
    ``set_next_timestamp``, and settlement gas depends on the time of the close.
    """
    w3 = fn.w3
    tx_hash = fn.transact({"from": sender, "gas": GAS})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    assert receipt["status"] == 1
    return receipt


def revert_data(fn: Any, sender: str) -> str:
    """The revert data of a transaction that must fail, simulated in the pending block (which
    honours ``set_next_timestamp``); nothing is mined."""
    try:
        fn.call({"from": sender, "gas": GAS}, block_identifier="pending")
    except ContractLogicError as exc:
        data = exc.data
        assert isinstance(data, str), f"no revert data: {exc!r}"
        return data
    raise AssertionError("the transaction did not revert")


def assert_reverts(fn: Any, sender: str, error_signature: str) -> bytes:
    """Assert a custom-error revert with ``error_signature``; returns the encoded arguments."""
    data = revert_data(fn, sender)
    assert data[:10] == selector(error_signature), (data, error_signature)
    return bytes.fromhex(data[10:])


def assert_reverts_with_string(fn: Any, sender: str, message: str) -> None:
    data = revert_data(fn, sender)
    assert data[:10] == selector("Error(string)"), data
    (text,) = abi_decode(["string"], bytes.fromhex(data[10:]))
    assert text == message


def assert_panics(fn: Any, sender: str, code: int) -> None:
    data = revert_data(fn, sender)
    assert data[:10] == selector("Panic(uint256)"), data
    (got,) = abi_decode(["uint256"], bytes.fromhex(data[10:]))
    assert got == code


def economics(diamond: Contract) -> Economics:
    """The on-chain inputs of the formulas, read live."""
    pools = tuple(Pool(*p) for p in diamond.functions.getPools().call())
    return Economics(
        pools=pools,
        total_claimed=diamond.functions.getProvidersTotalClaimed().call(),
        max_session_duration=diamond.functions.getMaxSessionDuration().call(),
    )


@dataclass
class Market:
    """A provider with a model and an active bid, ready for sessions."""

    devnet: Devnet
    diamond: Contract
    token: Contract
    provider: str
    provider_key: bytes
    user: str
    user_key: bytes
    model_id: bytes
    bid_id: bytes
    price: int

    def approval(
        self,
        timestamp: int,
        *,
        chain_id: int | None = None,
        bid_id: bytes | None = None,
        key: bytes | None = None,
    ) -> tuple[bytes, bytes]:
        approval = encode_approval(
            bid_id or self.bid_id,
            self.devnet.chain_id if chain_id is None else chain_id,
            self.user,
            timestamp,
        )
        return approval, eip191_sign(key or self.provider_key, approval)

    def balance(self, who: str) -> int:
        return int(self.token.functions.balanceOf(who).call())


def setup_market(
    devnet: Devnet,
    *,
    price: int = 10**13,
    provider_index: int = 1,
    user_index: int = 2,
    provider_stake: int = 2 * 10**17,
) -> Market:
    diamond, token = devnet.diamond(), devnet.token()
    provider_acct, user_acct = devnet.account(provider_index), devnet.account(user_index)
    provider, user = provider_acct.address, user_acct.address
    owner = devnet.account(3).address
    big = 10**30
    for who in (provider, user, owner):
        send(token.functions.approve(diamond.address, big), who)
    send(diamond.functions.providerRegister(provider, provider_stake, "127.0.0.1:3333"), provider)
    base = b"\x07" * 32
    cid = b"\x01" * 32
    register = diamond.functions.modelRegister(owner, base, cid, 0, 10**17, "tiny", ["llm"])
    send(register, owner)
    model_id = diamond.functions.getModelId(owner, base).call()
    send(diamond.functions.postModelBid(provider, model_id, price), provider)
    bid_id = diamond.functions.getBidId(provider, model_id, 0).call()
    return Market(
        devnet=devnet,
        diamond=diamond,
        token=token,
        provider=provider,
        provider_key=bytes(provider_acct.key),
        user=user,
        user_key=bytes(user_acct.key),
        model_id=model_id,
        bid_id=bid_id,
        price=price,
    )


def open_session(
    m: Market,
    amount: int,
    at: int,
    *,
    direct: bool = False,
    approval_ts: int | None = None,
) -> bytes:
    """Open a session mined exactly at ``at``; returns its id (checked against the call result)."""
    from web3.logs import DISCARD

    approval, sig = m.approval(at if approval_ts is None else approval_ts)
    fn = m.diamond.functions.openSession(m.user, amount, direct, approval, sig)
    m.devnet.set_next_timestamp(at)
    receipt = send(fn, m.user)
    (event,) = m.diamond.events.SessionOpened().process_receipt(receipt, errors=DISCARD)
    assert event.args.user == m.user and event.args.providerId == m.provider
    return bytes(event.args.sessionId)


def close_session(
    m: Market,
    session_id: bytes,
    at: int,
    *,
    signer_key: bytes | None = None,
    tps: int = 0,
    ttft: int = 0,
) -> Any:
    from tests.devnet_fixture import encode_receipt

    receipt = encode_receipt(session_id, m.devnet.chain_id, at, tps, ttft, 10, 20)
    sig = eip191_sign(signer_key or m.provider_key, receipt)
    m.devnet.set_next_timestamp(at)
    return send(m.diamond.functions.closeSession(receipt, sig), m.user)


def balances(m: Market, *who: str) -> list[int]:
    return [m.balance(w) for w in who]
