"""`provider serve --backend URL`: a provider serves from an existing OpenAI-compatible server.

The server is llama-cpp-python's own (``llama_cpp.server``) with the real SmolLM2, started here;
the chain is the real devnet; the consumer opens, uses and closes a real p2p session."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web

from app.commands.provider_backend import open_provider_engine
from app.inference.remote_openai import RemoteEngineError, connect_backend
from app.inference.types import ChatMessage, ChatRequest, SamplingParams
from app.services.consumer_service import ConsumerService
from app.services.node_identity import WalletNodeKey
from app.services.provider_service import ProviderService
from tests.devnet_fixture import devnet  # noqa: F401  (fixture)
from tests.e2e.conftest import CONSUMER_INDEX, PROVIDER_INDEX, make_party
from tests.http_server import serving
from tests.inference.conftest import collect

ASYNC = pytest.mark.asyncio(loop_scope="session")
ROOT = Path(__file__).resolve().parents[2]
PRICE = 10**13


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log = tmp_path_factory.mktemp("llama_server") / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.inference.llama_server", "--model", str(model_path),
             "--host", "127.0.0.1", "--port", str(port), "--n_threads", "1", "--n_ctx", "1024"],
            stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, log.read_text()[-2000:]
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "llama_cpp.server did not come up"
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@ASYNC
async def test_p2p_session_served_by_an_openai_compatible_server(
    llama_server: str, devnet, tmp_path: Path  # type: ignore[no-untyped-def]  # noqa: F811
) -> None:
    args = argparse.Namespace(backend=llama_server, backend_key=None, model=None, slots=1)
    remote, name = await open_provider_engine(args, tmp_path / "models")
    assert name == "SmolLM2-135M-Instruct.Q4_1"  # the server's model id is the file's path
    assert remote.device_summary() == f"the model server at {llama_server} ({remote.model})"
    snap = devnet.snapshot()
    p = await make_party(devnet, PROVIDER_INDEX, tmp_path / "provider")
    c = await make_party(devnet, CONSUMER_INDEX, tmp_path / "consumer")
    provider = ProviderService(p.chain, p.signer, WalletNodeKey(p.signer), remote, p.runner,
                               p.sessions, model_name=name)
    consumer = ConsumerService(c.chain, c.signer, WalletNodeKey(c.signer), c.runner, c.sessions)
    try:
        checks = {i.key: i for i in await provider.checklist(PRICE)}
        assert checks["model"].detail == remote.model and "tokens/s" in checks["bench"].detail
        assert checks["device"].detail.startswith("the model server at")
        bid_id = await provider.go_online(PRICE)
        opened = await consumer.open_session(bid_id, 600)
        request = ChatRequest((ChatMessage("user", "Say hello."),),
                              SamplingParams(max_tokens=12, temperature=0.0))
        pieces, metrics = await collect(opened.engine.chat_stream(request))
        assert len(pieces) >= 2 and "".join(pieces).strip()
        assert 0 < metrics.completion_tokens <= 12
        devnet.time_travel(120)
        await consumer.close_session(opened.record.session_id)
        after = await c.chain.get_session(opened.record.session_id)
        assert after.closed_at > 0 and after.closeout_type == 0  # the provider's receipt
        assert provider.dashboard.prompts_served == 1 and provider.dashboard.tokens_served > 0
        await provider.go_offline()
    finally:
        if provider.server is not None:
            await provider.server.stop()
        await remote.close()
        await p.chain.close()
        await c.chain.close()
        devnet.revert(snap)


@pytest_asyncio.fixture(loop_scope="session")
async def not_openai() -> AsyncIterator[str]:
    """A web server that is up but is not a model server (a router's admin page, say)."""
    async def page(_r: web.Request) -> web.Response:
        return web.Response(text="<html>hi</html>")

    app = web.Application()
    app.router.add_get("/v1/models", page)
    async with serving(app) as url:
        yield url


@ASYNC
async def test_backend_down_or_not_openai_is_a_plain_error(not_openai: str) -> None:
    with pytest.raises(RemoteEngineError) as down:
        await connect_backend(f"http://127.0.0.1:{_free_port()}/v1")
    assert "Cannot reach the model server" in down.value.message
    with pytest.raises(RemoteEngineError) as html:
        await connect_backend(not_openai)
    assert "is not an OpenAI-compatible model server" in html.value.message
    assert "did not answer with JSON" in html.value.message
    with pytest.raises(RemoteEngineError) as four04:
        await connect_backend(not_openai + "/other")
    assert "HTTP 404" in four04.value.message
    with pytest.raises(RemoteEngineError) as bad:
        await connect_backend("localhost:8080")
    assert "not a server address" in bad.value.message


def test_cli_refuses_a_backend_that_is_down(tmp_path: Path) -> None:
    """`morpheus provider serve --backend URL` stops with the plain message before anything is
    put on chain."""
    url = f"http://127.0.0.1:{_free_port()}/v1"
    r = subprocess.run(
        [sys.executable, "-m", "app.cli", "provider", "serve", "--network", "devnet",
         "--dev-account", "5", "--backend", url, "--backend-key", "sk-not-printed-0123456789"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
        env={**os.environ, "MORPHEUS_HOME": str(tmp_path)},
    )
    assert r.returncode == 1
    assert f"Cannot reach the model server at {url}" in r.stderr
    assert "sk-not-printed" not in r.stdout + r.stderr
