"""A consumer process that dies with SIGKILL the instant its openSession transaction is sent
(right after the broadcast; the hash was recorded just before it).

Run by tests/e2e/test_crash_recovery.py: ``python -m tests.e2e.crash_consumer BID DEV_INDEX``
with MORPHEUS_HOME pointing at the consumer's data.
"""

from __future__ import annotations

import asyncio
import sys

from app.chain.devnet import dev_account
from app.chain.tx import SentTx
from app.services.runtime import Runtime
from app.wallet.signer import LocalSigner
from tests.e2e.kill_child import install_kill_hook


async def main(bid_id: str, index: int) -> None:
    rt = Runtime(network_key="devnet")
    install_kill_hook("openSession", rt.network().rpc_urls[0])
    consumer = await rt.consumer(LocalSigner(bytes(dev_account(index).key)))

    def on_tx(tx: SentTx) -> None:
        print(f"sent {tx.description} {tx.tx_hash}", flush=True)

    await consumer.open_session(bid_id, 600, on_tx=on_tx)
    print("not killed", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
