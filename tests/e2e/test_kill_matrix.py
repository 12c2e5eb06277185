"""kill -9 at every point where money is in flight, then a restart of the job supervisor (headless
as `morpheus jobs run`, and for two points the GUI's services started at launch): every
session ends closed, every held stake is withdrawn after the next UTC midnight, every served
session is claimed, and the books balance to the wei (MOR conserved across consumer, provider,
contract and funding pool; each party's ETH is its start minus the gas it paid).

A ``:pending`` point kills the process while its transaction is still pending (anvil's automine
is off): the restarted supervisor must wait for it, not fail and not send it twice.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from app.chain.client import ChainClient
from app.chain.devnet import Devnet, dev_account, free_port
from app.inference.types import ChatMessage, ChatRequest, SamplingParams
from app.services.app_services import AppServices
from app.services.runtime import Runtime
from app.services.supervisor import JobSupervisor
from app.storage.jobs import JobState
from tests.e2e.conftest import Market
from tests.e2e.kill_matrix_helpers import (
    MODEL,
    PRICE,
    Books,
    books,
    drive_to_the_end,
    gas_spent,
    make_home,
    restart,
    restart_gui,
    run_until_killed,
    until,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

CONSUMER_INDEX = 7
PROVIDER_INDEX = 8

CONSUMER_POINTS = [
    "approve:pending", "openSession:pending", "openSession", "stream",
    "closeSession:pending", "closeSession", "withdrawUserStakes",
]
PROVIDER_POINTS = ["providerRegister", "modelRegister", "postModelBid", "serving",
                   "claimForProvider"]


def _automine(devnet: Devnet, on: bool) -> None:
    devnet.rpc("evm_setAutomine", [on])


async def _assert_books(chain: ChainClient, before: Books, parties: list[str],
                        unchanged_mor: list[str]) -> None:
    after = await books(chain, list(before.mor))
    assert sum(after.mor.values()) == sum(before.mor.values()), "MOR appeared or vanished"
    for who in unchanged_mor:
        assert after.mor[who] == before.mor[who], f"{who} did not get every wei of MOR back"
    for who in parties:
        assert after.eth[who] == before.eth[who] - await gas_spent(chain, who, before.block)


async def _all_claimed(chain: ChainClient, provider: str) -> None:
    """Every session of the provider is over and the provider got every wei it earned."""
    ids = await chain.provider_session_ids(provider)
    for s in await chain.get_sessions(ids) if ids else []:
        bid = await chain.get_bid(s.bid_id)
        earned = (min(s.closed_at, s.ends_at) - s.opened_at) * bid.price_per_second
        assert s.closed_at and s.provider_withdrawn_amount == earned, f"{s.id} left money behind"


RESTARTS = [("headless", p) for p in CONSUMER_POINTS] + [
    ("gui", "openSession:pending"), ("gui", "closeSession"),
]


@pytest.mark.parametrize(("how", "point"), RESTARTS)
async def test_consumer_killed(market: Market, tmp_path: Path, how: str, point: str) -> None:
    devnet, chain = market.devnet, market.p.chain
    bid_id = await market.provider.go_online(PRICE)
    user = dev_account(CONSUMER_INDEX).address
    provider = market.p.signer.address
    parties = [user, provider, chain.diamond, await chain.funding_account()]
    before = await books(chain, parties)
    paths = make_home(tmp_path / "consumer", devnet)

    async def on_line(line: str) -> None:
        if line == "closed" and point == "withdrawUserStakes":
            devnet.time_travel(86_400)  # past midnight: the child's supervisor withdraws

    sup: JobSupervisor | None = None
    rt: Runtime | None = None
    services: AppServices | None = None
    try:
        killed = await run_until_killed(["consumer", point, bid_id, str(CONSUMER_INDEX)],
                                        tmp_path / "consumer", on_line)
        assert killed.returncode == -9, killed.err[-3000:]
        assert f"killed at {point}" in killed.out
        if point == "closeSession":  # mined before the kill: part of the stake is now held
            assert (await chain.user_stakes_on_hold(user)).hold > 0

        if how == "gui":
            sup, services = await restart_gui(paths, CONSUMER_INDEX)
        else:
            sup, rt = await restart(paths, CONSUMER_INDEX)
        assert sup.runner is not None
        if point.endswith(":pending"):
            # Still pending: the restarted supervisor waits for it and never calls it failed.
            async def waiting() -> bool:
                assert sup is not None and sup.runner is not None
                jobs = [j for j in sup.runner.store.all() if j.tx_hashes]
                return bool(jobs) and all(
                    j.state is JobState.PENDING and "waiting for it to be mined" in j.last_error
                    for j in jobs if j.state is not JobState.DONE)

            await until(waiting, 30, "the job to wait for its pending transaction")
            assert not [j for j in sup.runner.store.all() if j.state is JobState.FAILED]
            _automine(devnet, True)
            devnet.mine()
            sup.runner.poke_all()

        await drive_to_the_end(devnet, chain, user, [sup.runner])
        assert not [j for j in sup.runner.store.all() if j.state is JobState.FAILED]
        await _assert_books(chain, before, [user], [user])
        await _all_claimed(chain, provider)
    finally:
        with contextlib.suppress(Exception):
            _automine(devnet, True)
        if services is not None:
            await services.stop()
        elif sup is not None:
            await sup.stop()
        if rt is not None:
            await rt.close()


@pytest.mark.parametrize("point", PROVIDER_POINTS)
async def test_provider_killed(market: Market, smol_engine: object, tmp_path: Path,
                               point: str) -> None:
    devnet, chain = market.devnet, market.c.chain
    me = dev_account(PROVIDER_INDEX).address
    user = market.c.signer.address
    parties = [me, user, chain.diamond, await chain.funding_account()]
    before = await books(chain, parties)
    paths = make_home(tmp_path / "provider", devnet)
    port = free_port()
    consumer = market.consumer

    async def on_line(line: str) -> None:
        if not line.startswith("online "):
            return
        bid = line.split()[1]
        if point not in ("serving", "claimForProvider"):
            return
        opened = await consumer.open_session(bid, 600)
        req = ChatRequest((ChatMessage("user", "Say hi."),), SamplingParams(max_tokens=4))
        with contextlib.suppress(Exception):  # the provider may die mid-answer
            async for _ in opened.engine.chat_stream(req):
                pass
        if point == "claimForProvider":
            now = await chain.latest_timestamp()
            devnet.time_travel(opened.record.ends_at - now + 10)  # its claim job runs

    sup: JobSupervisor | None = None
    rt: Runtime | None = None
    svc = None
    try:
        killed = await run_until_killed(
            ["provider", point, str(PROVIDER_INDEX), str(port), str(PRICE)],
            tmp_path / "provider", on_line)
        assert killed.returncode == -9, killed.err[-3000:]
        assert f"killed at {point}" in killed.out

        # Restart: the supervisor, and the node going online again (as `provider serve` does).
        sup, rt = await restart(paths, PROVIDER_INDEX)
        svc = await rt.provider(sup.signer, smol_engine,  # type: ignore[arg-type]
                                model_name=MODEL, port=port)
        bid = await svc.go_online(PRICE)
        p = await chain.get_provider(me)
        assert p.stake == await chain.provider_min_stake(), "registered twice"
        assert await chain.provider_active_bid_ids(me) == [bid]
        if point not in ("serving", "claimForProvider"):
            await consumer.open_session(bid, 600)  # the node serves after the restart

        assert sup.runner is not None
        consumer.runner.start()  # the consumer's own supervisor closes at the end
        await drive_to_the_end(devnet, chain, user, [sup.runner, consumer.runner])
        await _all_claimed(chain, me)
        assert not [j for j in sup.runner.store.all() if j.state is JobState.FAILED]
        # Provider and model stakes stay in the contract by design; everything else balances.
        await _assert_books(chain, before, [me, user], [user])
    finally:
        await consumer.runner.stop()
        if svc is not None and svc.server is not None:
            await svc.server.stop()
        if sup is not None:
            await sup.stop()
        if rt is not None:
            await rt.close()

