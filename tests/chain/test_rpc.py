"""RPC failover, garbage answers, timeouts and the chain-id check, against real anvil and a
tiny local HTTP server that misbehaves on purpose."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from app.chain.client import ChainClient
from app.chain.errors import RpcUnavailable, WrongChain
from app.chain.rpc import EthRpcError, RpcPool
from tests.chain.conftest import PlainAnvil, plain_network


def dead_url() -> str:
    """A loopback port that nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def junk_server() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_post("/", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        host, port = runner.addresses[0][:2]
        return f"http://{host}:{port}/"

    yield start
    for r in runners:
        await r.cleanup()


async def html_page(request: web.Request) -> web.Response:
    return web.Response(text="<html><body>502 Bad Gateway</body></html>", content_type="text/html")


async def wrong_shape(request: web.Request) -> web.Response:
    return web.json_response({"hello": "world"})


async def test_first_url_dead_calls_go_to_second(plain_anvil: PlainAnvil) -> None:
    pool = RpcPool([dead_url(), plain_anvil.url], expected_chain_id=31338)
    try:
        assert int(await pool.request("eth_chainId"), 16) == 31338
        assert pool.active_url == plain_anvil.url
        # later calls stay on the working endpoint: no more attempts on the dead one
        before = pool.request_count
        await pool.request("eth_blockNumber")
        assert pool.request_count == before + 1
    finally:
        await pool.close()


async def test_client_reads_balance_through_second_url(plain_anvil: PlainAnvil) -> None:
    client = ChainClient(plain_network(plain_anvil, [dead_url(), plain_anvil.url]))
    try:
        addr = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        assert await client.eth_balance(addr) > 0
        assert client.rpc.active_url == plain_anvil.url
    finally:
        await client.close()


@pytest.mark.parametrize("handler", [html_page, wrong_shape], ids=["html", "not-jsonrpc"])
async def test_garbage_answers_give_rpc_unavailable(
    junk_server: Callable[[Handler], Awaitable[str]], handler: Handler
) -> None:
    url = await junk_server(handler)
    pool = RpcPool([url], rounds=2, backoff=0.01)
    try:
        with pytest.raises(RpcUnavailable) as info:
            await pool.request("eth_blockNumber")
        assert "could not be reached" in info.value.message
        assert url in info.value.detail
        assert pool.request_count == 2  # one try per round
    finally:
        await pool.close()


async def test_garbage_first_then_good_second(
    junk_server: Callable[[Handler], Awaitable[str]], plain_anvil: PlainAnvil
) -> None:
    url = await junk_server(html_page)
    pool = RpcPool([url, plain_anvil.url])
    try:
        assert int(await pool.request("eth_chainId"), 16) == 31338
    finally:
        await pool.close()


async def test_hanging_endpoint_times_out(
    junk_server: Callable[[Handler], Awaitable[str]]
) -> None:
    never = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await never.wait()
        return web.Response(text="")

    url = await junk_server(hang)
    pool = RpcPool([url], timeout=0.3, rounds=1)
    try:
        with pytest.raises(RpcUnavailable):
            await pool.request("eth_blockNumber")
    finally:
        never.set()
        await pool.close()


async def test_all_dead_is_rpc_unavailable() -> None:
    pool = RpcPool([dead_url(), dead_url()], rounds=2, backoff=0.01)
    try:
        with pytest.raises(RpcUnavailable):
            await pool.request("eth_chainId")
        assert pool.request_count == 4
    finally:
        await pool.close()


async def test_wrong_chain_id_refused(plain_anvil: PlainAnvil) -> None:
    client = ChainClient(plain_network(plain_anvil, chain_id=8453))
    try:
        with pytest.raises(WrongChain) as info:
            await client.connect()
        assert info.value.expected == 8453 and info.value.actual == 31338
        assert "different network" in info.value.message
    finally:
        await client.close()


async def test_node_error_object_is_not_a_failover(plain_anvil: PlainAnvil) -> None:
    pool = RpcPool([plain_anvil.url, dead_url()])
    try:
        with pytest.raises(EthRpcError):
            await pool.request("eth_noSuchMethod")
        assert pool.active_url == plain_anvil.url
    finally:
        await pool.close()


async def test_batch_answers_in_call_order(plain_anvil: PlainAnvil) -> None:
    pool = RpcPool([plain_anvil.url])
    try:
        chain_id, bad, number = await pool.batch(
            [("eth_chainId", []), ("eth_noSuchMethod", []), ("eth_blockNumber", [])]
        )
        assert int(chain_id, 16) == 31338
        assert isinstance(bad, EthRpcError)
        assert int(number, 16) >= 0
        assert pool.request_count == 1
    finally:
        await pool.close()
