"""Faults between the program and the chain, with no user action afterwards:

* the reply to ``eth_sendRawTransaction`` of the open is lost (a loopback proxy forwards the
  transaction to anvil and drops the answer): the open is not called failed, the supervisor finds
  the session from the recorded hash, closes it at its end and the whole stake comes back;
* the node is restarted from a state file saved before a close (the close is rolled back): the
  supervisor sees the session open on chain again, closes it again, and the stake comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from app.chain.client import ChainClient
from app.chain.devnet import dev_account, start_devnet
from app.chain.networks import network_from_dict
from app.errors import UserFacingError
from app.inference.engine import LocalEngine
from app.services.node_identity import WalletNodeKey
from app.services.provider_service import ProviderService
from app.services.supervisor import JobSupervisor
from app.storage.jobs import JobState
from tests.e2e.conftest import FAST, Market, make_party
from tests.e2e.kill_matrix_helpers import (
    MODEL,
    PRICE,
    books,
    drive_to_the_end,
    gas_spent,
    make_home,
    restart,
    until,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")

CONSUMER_INDEX = 9


class DroppingProxy:
    """HTTP JSON-RPC proxy on loopback: forwards everything to ``upstream``; for the
    ``drop_nth`` eth_sendRawTransaction (and any retry of the same transaction) it forwards the
    request and then closes the connection without an answer."""

    def __init__(self, upstream: str, drop_nth: int) -> None:
        self.upstream = upstream
        self.drop_nth = drop_nth
        self.sent = 0
        self.dropped: set[str] = set()
        self.server: asyncio.Server | None = None
        self.http: aiohttp.ClientSession | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def start(self) -> None:
        self.http = aiohttp.ClientSession()
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            for w in list(self.writers):
                w.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.server.wait_closed(), 5)
        if self.http is not None:
            await self.http.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length)
                drop = self._should_drop(json.loads(body))
                assert self.http is not None
                async with self.http.post(self.upstream, data=body,
                                          headers={"Content-Type": "application/json"}) as r:
                    answer = await r.read()
                if drop:
                    writer.close()  # forwarded, but the answer is lost
                    return
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             + f"Content-Length: {len(answer)}\r\n\r\n".encode() + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, aiohttp.ClientError):
            pass
        finally:
            self.writers.discard(writer)
            writer.close()

    def _should_drop(self, body: Any) -> bool:
        calls = body if isinstance(body, list) else [body]
        for c in calls:
            if c.get("method") == "eth_sendRawTransaction":
                raw = c["params"][0]
                if raw in self.dropped:
                    return True
                self.sent += 1
                if self.sent == self.drop_nth:
                    self.dropped.add(raw)
                    return True
        return False


async def test_lost_reply_to_the_open_broadcast(market: Market, tmp_path: Path) -> None:
    devnet, chain = market.devnet, market.p.chain
    bid_id = await market.provider.go_online(PRICE)
    user = dev_account(CONSUMER_INDEX).address
    before = await books(chain, [user, chain.diamond])
    proxy = DroppingProxy(devnet.rpc_url, drop_nth=2)  # 1: approve, 2: openSession
    await proxy.start()
    paths = make_home(tmp_path / "consumer", devnet)
    net = dict(devnet.network, rpcUrls=[proxy.url])
    (paths.data / "devnet" / "network.json").write_text(json.dumps(net))
    sup, rt = await restart(paths, CONSUMER_INDEX)
    try:
        assert sup.consumer is not None and sup.runner is not None
        with pytest.raises(UserFacingError) as err:
            await sup.consumer.open_session(bid_id, 600)
        assert "being tracked" in err.value.message
        assert proxy.dropped, "the proxy did not drop the broadcast's answer"
        [job] = [j for j in sup.runner.store.all() if j.kind == "consumer.open"]
        assert job.state is not JobState.FAILED and len(job.tx_hashes) == 2

        # No user action: the supervisor finds the session from the hash and closes it.
        await drive_to_the_end(devnet, chain, user, [sup.runner])
        ids = await chain.user_session_ids(user)
        assert len(ids) == 1
        opened = sup.runner.store.get(job.key)
        assert opened is not None and opened.result.get("session_id") == ids[0]
        after = await books(chain, [user, chain.diamond])
        assert after.mor == before.mor  # every wei of the stake is back
        assert after.eth[user] == before.eth[user] - await gas_spent(chain, user, before.block)
    finally:
        await sup.stop()
        await rt.close()
        await proxy.stop()


def _state_json(dump_hex: str) -> bytes:
    """``anvil_dumpState`` answers hex of gzipped JSON; ``--state`` loads the JSON."""
    raw = bytes.fromhex(dump_hex.removeprefix("0x"))
    with contextlib.suppress(OSError):
        raw = gzip.decompress(raw)
    return raw


async def test_node_restarted_from_a_state_file_saved_before_the_close(
    smol_engine: LocalEngine, tmp_path: Path,
) -> None:
    state_dir = tmp_path / "devnet"
    node = start_devnet(state_dir)
    # Everyone talks to the node through a loopback forwarder, so the restarted node may listen
    # on another port (the old one lingers in TIME_WAIT) behind the same address.
    front = DroppingProxy(node.rpc_url, drop_nth=0)
    await front.start()
    node.network["rpcUrls"] = [front.url]
    p = await make_party(node, 5, tmp_path / "provider")
    provider = ProviderService(p.chain, p.signer, WalletNodeKey(p.signer), smol_engine,
                               p.runner, p.sessions, model_name=MODEL)
    paths = make_home(tmp_path / "consumer", node)
    sup: JobSupervisor | None = None
    user = dev_account(CONSUMER_INDEX).address
    chain = ChainClient(network_from_dict(node.network), policy=FAST)
    await chain.connect()
    try:
        bid_id = await provider.go_online(PRICE)
        start = await chain.mor_balance(user)
        sup, _ = await restart(paths, CONSUMER_INDEX)
        assert sup.consumer is not None and sup.runner is not None
        opened = await sup.consumer.open_session(bid_id, 600)
        sid = opened.record.session_id
        saved = _state_json(node.rpc("anvil_dumpState"))  # the node's state before the close
        node.time_travel(60)
        closed = await sup.consumer.close_session(sid)
        assert closed.status == "closed" and (await chain.get_session(sid)).closed_at

        # The node restarts from the older state file: the close never happened.
        node.stop()
        (state_dir / "state.json").write_bytes(saved)
        node = start_devnet(state_dir)
        front.upstream = node.rpc_url
        assert (await chain.get_session(sid)).closed_at == 0

        # No user action: the supervisor notices (block height went back), sees the session
        # open on chain though recorded closed, and closes it again.
        await until(lambda: _closed_on_chain(chain, sid), 60, "the session closed again")
        job = sup.runner.store.get(f"close:{sid}")
        assert job is not None and len(job.tx_hashes) >= 2  # the rolled-back close, and again
        await drive_to_the_end(node, chain, user, [sup.runner])
        assert (await chain.get_session(sid)).closed_at
        assert await chain.mor_balance(user) == start
    finally:
        if sup is not None:
            await sup.stop()
            await sup.runtime.close()
        if provider.server is not None:
            await provider.server.stop()
        await p.chain.close()
        await chain.close()
        await front.stop()
        node.stop()


async def _closed_on_chain(chain: ChainClient, sid: str) -> bool:
    return bool((await chain.get_session(sid)).closed_at)


async def test_clock_minutes_off_never_turns_an_honest_close_into_a_dispute(
    market: Market, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The consumer's clock 6 minutes ahead of a provider that checks request times (a 5-minute
    window; the Go node's default accepts any clock): the provider refuses the signed report
    request. The close is not sent self-signed (a dispute); the user is told about the clock, and
    once it is right the close goes through with the provider's receipt."""
    import dataclasses
    import time as real_time
    import types

    from app.p2p import consumer_client

    bid_id = await market.provider.go_online(PRICE)
    server = market.provider.server
    assert server is not None
    server.limits = dataclasses.replace(server.limits, timestamp_window_ms=5 * 60_000)
    consumer = market.consumer
    opened = await consumer.open_session(bid_id, 600)
    sid = opened.record.session_id
    off = types.SimpleNamespace(time=lambda: real_time.time() + 360,
                                monotonic=real_time.monotonic, sleep=real_time.sleep)
    # Request timestamps stay increasing per signer within a process: keep this test's (future)
    # ones in a dict of its own, so later tests of the same account are not affected.
    monkeypatch.setattr(consumer_client, "_last_timestamp", {})
    monkeypatch.setattr(consumer_client, "time", off)
    with pytest.raises(UserFacingError) as err:
        await consumer.close_session(sid)
    assert "clock is off" in err.value.detail
    assert (await market.c.chain.get_session(sid)).closed_at == 0  # nothing sent as a dispute
    job = consumer.runner.store.get(f"close:{sid}")
    assert job is not None and job.state is JobState.PENDING and not job.tx_hashes

    # the user fixed the clock; request times follow it at once (no restart needed)
    monkeypatch.setattr(consumer_client, "time", real_time)
    consumer.runner.retry(f"close:{sid}")
    closed = await consumer.close_session(sid)
    assert closed.status == "closed"
    done = consumer.runner.store.get(f"close:{sid}")
    assert done is not None and done.result.get("disputed") is False


async def test_a_failing_open_is_found_before_the_approve_is_sent(
    market: Market, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The open is simulated with the allowance given by a state override: a revert (here a
    tampered provider signature) costs no approve, so no gas is spent at all."""
    import dataclasses

    from app.chain.errors import ChainError
    from app.p2p.consumer_client import ProviderClient

    chain = market.c.chain
    user = market.consumer.user
    bid_id = await market.provider.go_online(PRICE)
    override = await chain.tx.allowance_override(chain.token, user, chain.diamond, 12345)
    assert override is not None  # the token's allowance slot was found on this node
    original = ProviderClient.request_session

    async def tampered(self: ProviderClient, *args: Any, **kwargs: Any) -> Any:
        approval = await original(self, *args, **kwargs)
        sig = bytearray(approval.approval_sig)
        sig[5] ^= 0xFF
        return dataclasses.replace(approval, approval_sig=bytes(sig))

    monkeypatch.setattr(ProviderClient, "request_session", tampered)
    nonce = await chain.rpc.request("eth_getTransactionCount", [user, "pending"])
    eth = await chain.eth_balance(user)
    with pytest.raises(ChainError):
        await market.consumer.open_session(bid_id, 600)
    assert await chain.rpc.request("eth_getTransactionCount", [user, "pending"]) == nonce
    assert await chain.eth_balance(user) == eth  # not a wei of gas: no approve was sent
    assert await chain.allowance(user) == 0
    [job] = [j for j in market.consumer.runner.store.all() if j.kind == "consumer.open"]
    assert job.state is JobState.FAILED and not job.tx_hashes
