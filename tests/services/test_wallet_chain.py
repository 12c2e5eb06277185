"""The Wallet page's sends go through the program's one chain client and nonce manager."""

from __future__ import annotations

import asyncio
from pathlib import Path

from app.chain.client import ChainClient
from app.chain.devnet import Devnet, dev_account
from app.chain.networks import network_from_dict
from app.chain.tx import TxPolicy
from app.paths import AppPaths
from app.services.wallet_chain import ClientWalletChain
from app.services.wallet_service import WalletService
from tests.devnet_fixture import devnet  # noqa: F401  (fixture)

FAST = TxPolicy(poll_interval=0.05, receipt_timeout=30.0, replace_after=30.0)


async def test_wallet_send_shares_the_nonce_manager_with_other_writes(
    devnet: Devnet, tmp_path: Path  # noqa: F811
) -> None:
    snap = devnet.snapshot()
    chain = ChainClient(network_from_dict(devnet.network), policy=FAST)
    try:
        await chain.connect()
        assert await chain.w3.eth.chain_id == devnet.chain_id  # web3.py over our failover pool
        paths = AppPaths(tmp_path / "c", tmp_path / "d", tmp_path / "l", tmp_path / "x").ensure()
        wallet = WalletService(paths, chain=ClientWalletChain(chain), keystore_scrypt_n=2**10,
                               seal_scrypt_n=2**10)
        wallet.import_private_key("0x" + bytes(dev_account(3).key).hex(), "correct horse 42!")
        me, friend = dev_account(3).address, dev_account(4).address
        mor_me, mor_friend = await chain.mor_balance(me), await chain.mor_balance(friend)

        preview = await wallet.prepare_send("MOR", friend, "1.5")
        # A wallet send and a transfer by another task at the same moment: distinct nonces.
        other = chain.transfer_mor(wallet.signer, friend, 2 * 10**18)
        rec, _ = await asyncio.gather(wallet.send(preview), other)
        assert rec.tx_hash.startswith("0x")
        await chain.wait_for_receipt(rec.tx_hash, timeout=30)
        assert await wallet.chain.transaction_status(rec.tx_hash) == "confirmed"  # type: ignore[union-attr]
        assert await chain.mor_balance(friend) == mor_friend + 35 * 10**17
        assert await chain.mor_balance(me) == mor_me - 35 * 10**17

        # The wallet's on-chain MOR history has both sends and the devnet's funding transfer.
        history = await wallet.mor_transfers()
        outgoing = [t for t in history if t.sender == me and t.to == friend]
        assert sorted(t.amount for t in outgoing) == [15 * 10**17, 2 * 10**18]
        assert rec.tx_hash in {t.tx_hash for t in outgoing}
        assert any(t.to == me and t.amount > 0 for t in history)
        assert [t.block for t in history] == sorted((t.block for t in history), reverse=True)
    finally:
        await chain.close()
        devnet.revert(snap)
