"""The transaction manager against a real anvil: nonces under concurrency, fee-bump replacement
of a stuck transaction, ETH short for gas, and reverts decoded before anything is signed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from app.chain.errors import (
    ContractReverted,
    InsufficientEth,
    RpcUnavailable,
    TransactionFailed,
)
from app.chain.rpc import RpcPool
from app.chain.tx import SentTx, TxManager, TxPolicy
from tests.chain.conftest import ANVIL_KEY0, PlainAnvil

CHAIN_ID = 31338
# Runtime code: revert with the 4 bytes 0xdeadbeef (an error no ABI knows); init code returns it.
REVERTER_RUNTIME = "63deadbeef60e01b60005260046000fd"
REVERTER_INIT = "0x6010600c60003960106000f3" + REVERTER_RUNTIME


@pytest.fixture
async def pool(plain_anvil: PlainAnvil) -> AsyncIterator[RpcPool]:
    p = RpcPool([plain_anvil.url], expected_chain_id=CHAIN_ID)
    yield p
    await p.close()


def fast(**kw: float) -> TxPolicy:
    return TxPolicy(poll_interval=0.05, receipt_timeout=20.0, **kw)  # type: ignore[arg-type]


def balance(anvil: PlainAnvil, addr: str) -> int:
    return int(str(anvil.rpc("eth_getBalance", [addr, "latest"])), 16)


def nonce(anvil: PlainAnvil, addr: str) -> int:
    return int(str(anvil.rpc("eth_getTransactionCount", [addr, "latest"])), 16)


async def test_send_eth_reports_hash_and_returns_receipt(
    pool: RpcPool, funded_account: LocalAccount, plain_anvil: PlainAnvil
) -> None:
    tm = TxManager(pool, CHAIN_ID, fast())
    to = Account.create().address
    sent: list[SentTx] = []
    rec = await tm.send(funded_account, to, value=12345, on_sent=sent.append)
    assert rec.status == 1
    assert [s.tx_hash for s in sent] == [rec.tx_hash]
    assert sent[0].max_fee_per_gas >= sent[0].max_priority_fee_per_gas > 0
    assert balance(plain_anvil, to) == 12345


async def test_concurrent_writes_share_one_nonce_sequence(
    pool: RpcPool, funded_account: LocalAccount, plain_anvil: PlainAnvil
) -> None:
    tm = TxManager(pool, CHAIN_ID, fast())
    to = Account.create().address
    sent: list[SentTx] = []
    receipts = await asyncio.gather(
        *(tm.send(funded_account, to, value=1000 + i, on_sent=sent.append) for i in range(8))
    )
    assert all(r.status == 1 for r in receipts)
    assert sorted(s.nonce for s in sent) == list(range(8))
    assert balance(plain_anvil, to) == sum(1000 + i for i in range(8))
    assert nonce(plain_anvil, funded_account.address) == 8


async def test_stuck_transaction_is_replaced_with_fee_bump(
    pool: RpcPool, funded_account: LocalAccount, plain_anvil: PlainAnvil
) -> None:
    tm = TxManager(pool, CHAIN_ID, fast(replace_after=0.3, max_replacements=1))
    to = Account.create().address
    sent: list[SentTx] = []
    replaced = asyncio.Event()
    pending_when_reported: list[object] = []

    def on_sent(s: SentTx) -> None:
        # the hash arrives before anything is mined: a caller can persist it first
        pending_when_reported.append(plain_anvil.rpc("eth_getTransactionReceipt", [s.tx_hash]))
        sent.append(s)
        if s.replaces:
            replaced.set()

    plain_anvil.rpc("evm_setAutomine", [False])
    try:
        task = asyncio.create_task(tm.send(funded_account, to, value=777, on_sent=on_sent))
        await asyncio.wait_for(replaced.wait(), 10)
        plain_anvil.rpc("evm_mine", [])
        rec = await asyncio.wait_for(task, 10)
    finally:
        plain_anvil.rpc("evm_setAutomine", [True])
    first, second = sent
    assert pending_when_reported == [None, None]
    assert second.replaces == first.tx_hash and second.nonce == first.nonce
    assert second.max_priority_fee_per_gas * 1000 >= first.max_priority_fee_per_gas * 1125
    assert second.max_fee_per_gas * 1000 >= first.max_fee_per_gas * 1125
    assert rec.tx_hash == second.tx_hash and rec.status == 1
    assert plain_anvil.rpc("eth_getTransactionReceipt", [first.tx_hash]) is None
    assert balance(plain_anvil, to) == 777  # paid exactly once


async def test_insufficient_eth_for_gas_names_the_missing_amount(
    pool: RpcPool, plain_anvil: PlainAnvil
) -> None:
    poor: LocalAccount = Account.create()
    plain_anvil.rpc("anvil_setBalance", [poor.address, hex(1000)])
    tm = TxManager(pool, CHAIN_ID, fast())
    sent: list[SentTx] = []
    with pytest.raises(InsufficientEth) as info:
        await tm.send(poor, Account.create().address, value=1, on_sent=sent.append)
    err = info.value
    assert err.balance == 1000
    assert err.missing == err.needed - 1000 > 0
    assert "Not enough ETH" in err.message and "more is needed" in err.message
    assert sent == [] and nonce(plain_anvil, poor.address) == 0


async def test_unknown_revert_selector_is_typed_and_nothing_is_sent(
    pool: RpcPool, funded_account: LocalAccount, plain_anvil: PlainAnvil
) -> None:
    deployer = Account.from_key(ANVIL_KEY0)
    tx_hash = plain_anvil.rpc("eth_sendTransaction", [{"from": deployer.address,
                                                       "data": REVERTER_INIT}])
    tm = TxManager(pool, CHAIN_ID, fast())
    await tm.wait_for_receipt([str(tx_hash)], 10)  # anvil may mine a moment after answering
    receipt = plain_anvil.rpc("eth_getTransactionReceipt", [tx_hash])
    assert isinstance(receipt, dict)
    reverter = receipt["contractAddress"]
    with pytest.raises(ContractReverted) as info:
        await tm.send(funded_account, reverter, b"\x12\x34\x56\x78")
    assert type(info.value) is ContractReverted
    assert info.value.data == "0xdeadbeef"
    assert "0xdeadbeef" in info.value.message + info.value.detail
    assert nonce(plain_anvil, funded_account.address) == 0

    # Without the simulation the transaction is mined and fails; the reason is recovered.
    with pytest.raises(TransactionFailed) as failed:
        await tm.send(funded_account, reverter, b"\x12\x34\x56\x78", gas=60_000,
                      simulate=False)
    assert "deadbeef" in failed.value.detail
    assert nonce(plain_anvil, funded_account.address) == 1


async def test_eth_amount_above_balance_is_typed(
    pool: RpcPool, plain_anvil: PlainAnvil
) -> None:
    acct: LocalAccount = Account.create()
    plain_anvil.rpc("anvil_setBalance", [acct.address, hex(10**18)])
    tm = TxManager(pool, CHAIN_ID, fast())
    with pytest.raises(InsufficientEth) as info:
        await tm.send(acct, Account.create().address, value=2 * 10**18)
    assert info.value.missing > 10**18 and info.value.balance == 10**18


async def test_unanswered_broadcast_still_reports_the_hash(
    plain_anvil: PlainAnvil, funded_account: LocalAccount
) -> None:
    """The node gets the transaction but the answer is lost: the caller must still learn the
    hash (to record and watch it), and the error must say the network was unreachable."""
    import aiohttp
    from aiohttp import web

    upstream = aiohttp.ClientSession()

    async def lossy_proxy(request: web.Request) -> web.Response:
        body = await request.read()
        async with upstream.post(plain_anvil.url, data=body,
                                 headers={"Content-Type": "application/json"}) as resp:
            answer = await resp.read()
        if b"eth_sendRawTransaction" in body:
            return web.Response(status=502, text="<html>Bad Gateway</html>")
        return web.Response(body=answer, content_type="application/json")

    app = web.Application()
    app.router.add_post("/", lossy_proxy)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    pool = RpcPool([f"http://{host}:{port}/"], rounds=1)
    try:
        tm = TxManager(pool, CHAIN_ID, fast())
        sent: list[SentTx] = []
        with pytest.raises(RpcUnavailable):
            await tm.send(funded_account, Account.create().address, value=5, on_sent=sent.append)
        assert len(sent) == 1
        direct = RpcPool([plain_anvil.url])
        try:
            rec = await TxManager(direct, CHAIN_ID, fast()).wait_for_receipt(
                [sent[0].tx_hash], 10)
        finally:
            await direct.close()
        assert rec.status == 1  # it did go through, and the caller knows its hash
    finally:
        await pool.close()
        await upstream.close()
        await runner.cleanup()
