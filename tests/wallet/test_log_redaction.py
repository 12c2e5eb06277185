"""RPC URLs carry API keys in their path; logs and messages keep scheme + host only.

The live endpoint is the session's anvil behind a tiny loopback proxy that answers only on a
secret path (anvil itself serves "/" only), the dead one a closed local port with another secret.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from app.chain.client import ChainClient
from app.chain.devnet import Devnet
from app.chain.errors import RpcUnavailable
from app.chain.networks import network_from_dict
from app.chain.rpc import RpcPool
from app.logsetup import redact, safe_url, setup_logging
from app.paths import app_paths
from tests.http_server import serving

DEAD_SECRET = "SECRETKEY123"
LIVE_SECRET = "LIVEKEY456xyz"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def secret_path_rpc(devnet: Devnet) -> AsyncIterator[str]:
    """``http://127.0.0.1:<port>/v3/<LIVE_SECRET>`` forwarding to the devnet."""

    async def forward(request: web.Request) -> web.Response:
        body = await request.read()
        async with aiohttp.ClientSession() as s, s.post(
            devnet.rpc_url, data=body, headers={"Content-Type": "application/json"}
        ) as resp:
            return web.Response(body=await resp.read(), content_type="application/json")

    app = web.Application()
    app.router.add_post(f"/v3/{LIVE_SECRET}", forward)
    async with serving(app) as url:
        yield f"{url}/v3/{LIVE_SECRET}"


def _log_text() -> str:
    for h in logging.getLogger().handlers:
        h.flush()
    return (app_paths().logs / "morpheus.log").read_text(encoding="utf-8")


def test_safe_url_keeps_scheme_and_host() -> None:
    assert safe_url("https://base.g.alchemy.com/v2/abcDEF") == "https://base.g.alchemy.com/\u2026"
    assert safe_url("https://user:pw@rpc.example:8443?key=1") == "https://rpc.example:8443/\u2026"
    assert safe_url("http://127.0.0.1:8545/") == "http://127.0.0.1:8545/"
    assert redact(f"failed: http://127.0.0.1:9/v3/{DEAD_SECRET}: refused") == (
        "failed: http://127.0.0.1:9/\u2026: refused"
    )
    line = "devnet on http://127.0.0.1:8545, pid 7."
    assert redact(line) == line


async def test_failover_between_secret_urls_leaves_no_secret_in_the_log(
    devnet: Devnet, secret_path_rpc: str, tmp_path: Path
) -> None:
    setup_logging()  # into this run's log file, whatever an earlier test pointed it at
    dead = f"http://127.0.0.1:{_closed_port()}/v3/{DEAD_SECRET}"
    network = network_from_dict(devnet.network).with_rpc_urls([dead, secret_path_rpc])
    client = ChainClient(network)
    try:
        await client.connect()
        assert await client.block_number() >= 0  # answered through the live secret URL
    finally:
        await client.close()
    logged = _log_text()
    assert "RPC failover: now using endpoint #2 (http://127.0.0.1:" in logged
    assert "RPC endpoint failed" in logged
    assert DEAD_SECRET not in logged and LIVE_SECRET not in logged

    # Nothing answers at all: the message and its detail carry no secret either.
    pool = RpcPool([dead, dead.replace(DEAD_SECRET, LIVE_SECRET)], rounds=1)
    try:
        with pytest.raises(RpcUnavailable) as err:
            await pool.request("eth_blockNumber")
    finally:
        await pool.close()
    logging.getLogger("test").warning("chain failed: %s (%s)", err.value, err.value.detail)
    assert DEAD_SECRET not in err.value.detail and LIVE_SECRET not in err.value.detail
    assert DEAD_SECRET not in _log_text() and LIVE_SECRET not in _log_text()
