"""kill -9 right after openSession is sent: the next start finds the session, closes it at its
end, and the whole stake comes back. Money is never stranded."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from app.chain.devnet import dev_account
from app.paths import AppPaths
from app.services.runtime import Runtime
from app.storage.jobs import JobState
from app.wallet.signer import LocalSigner
from tests.e2e.conftest import FAST, Market

pytestmark = pytest.mark.asyncio(loop_scope="session")

REPO = Path(__file__).resolve().parents[2]


async def _wait(event: asyncio.Event, cond: object, timeout: float = 60.0) -> None:
    async def loop() -> None:
        while not cond():  # type: ignore[operator]
            event.clear()
            await event.wait()

    await asyncio.wait_for(loop(), timeout)


async def test_consumer_killed_after_open_recovers_and_gets_stake_back(
    market: Market, tmp_path: Path
) -> None:
    bid_id = await market.provider.go_online(10**13)
    index = 7
    user = dev_account(index).address
    chain = market.p.chain
    start_balance = await chain.mor_balance(user)

    home = tmp_path / "consumer-home"
    paths = AppPaths(home / "config", home / "data", home / "logs", home / "cache").ensure()
    (paths.data / "devnet").mkdir(parents=True)
    (paths.data / "devnet" / "network.json").write_text(json.dumps(market.devnet.network))

    env = {**os.environ, "MORPHEUS_HOME": str(home)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.e2e.crash_consumer", bid_id, str(index),
        cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == -9, err.decode()[-2000:]
    assert b"sent openSession" in out and b"not killed" not in out
    # the node mines it on its own schedule: a busy machine may not have yet
    sent = out.decode().split("sent openSession ", 1)[1].split()[0]
    assert (await chain.wait_for_receipt(sent, 30)).status == 1

    # The session is on chain and the stake is gone from the wallet...
    ids = await chain.user_session_ids(user)
    assert len(ids) == 1
    session = await chain.get_session(ids[0])
    assert session.is_active and await chain.mor_balance(user) == start_balance - session.stake

    # ...and the restarted program finds it from the job it wrote before sending.
    rt = Runtime(paths, network_key="devnet", tx_policy=FAST)
    consumer = await rt.consumer(LocalSigner(bytes(dev_account(index).key)))
    changed = asyncio.Event()
    consumer.runner.on_change(changed.set)
    consumer.runner.start()
    try:
        await _wait(changed, lambda: consumer.sessions.get(ids[0], "consumer") is not None)
        rec = consumer.sessions.get(ids[0], "consumer")
        assert rec is not None and rec.stake == session.stake and rec.status == "open"
        close_job = consumer.runner.store.get(f"close:{ids[0]}")
        assert close_job is not None and close_job.state is JobState.PENDING

        # At the session's end the background runner closes it without anyone asking.
        now = await chain.latest_timestamp()
        market.devnet.time_travel(session.ends_at - now + 5)
        consumer.runner.poke_all()

        def closed() -> bool:
            job = consumer.runner.store.get(f"close:{ids[0]}")
            return job is not None and job.state is JobState.DONE

        await _wait(changed, closed)
        after = await chain.get_session(ids[0])
        assert after.closed_at >= after.ends_at and not after.is_active
        # Closed after its end: the whole stake comes back at once, nothing is held.
        assert await chain.mor_balance(user) == start_balance
        assert (await chain.user_stakes_on_hold(user)).hold == 0
        final = consumer.sessions.get(ids[0], "consumer")
        assert final is not None and final.status == "closed" and final.refunded == session.stake
    finally:
        await rt.close()
