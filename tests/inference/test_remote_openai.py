"""OpenAICompatEngine against a real OpenAI-compatible server: our local API over LocalEngine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
import pytest_asyncio

from app.api.router import EngineRouter
from app.api.server import ApiServer
from app.inference.engine import LocalEngine
from app.inference.remote_openai import OpenAICompatEngine, RemoteEngineError
from app.inference.types import SamplingParams
from tests.http_server import serving
from tests.inference.conftest import ask, collect

pytestmark = pytest.mark.asyncio(loop_scope="session")
KEY = "test-key-0123456789abcdef"


@pytest_asyncio.fixture(loop_scope="session")
async def api(engine: LocalEngine) -> AsyncIterator[ApiServer]:
    router = EngineRouter()
    router.register("smollm2", engine)
    server = ApiServer(router, KEY)
    await server.start()
    yield server
    await server.stop()


async def test_streams_same_answer_as_the_engine(api: ApiServer, engine: LocalEngine) -> None:
    direct, _ = await collect(
        engine.chat_stream(ask("Count from 1 to 10, separated by commas.", 12))
    )
    async with OpenAICompatEngine(api.base_url, KEY, "smollm2") as remote:
        assert await remote.model_names() == ["smollm2"]
        deltas, m = await collect(
            remote.chat_stream(ask("Count from 1 to 10, separated by commas.", 12))
        )
    assert "".join(deltas) == "".join(direct)
    assert len(deltas) > 2
    assert m.completion_tokens == 12 and m.finish_reason == "length"
    assert m.prompt_tokens > 0 and m.ttft_ms > 0


async def test_openai_penalties_reach_the_engine_through_the_api(
    api: ApiServer, engine: LocalEngine
) -> None:
    """frequency/presence penalties, as the openai client sends them, change the answer, and
    the same answer comes back through our API as from the engine itself."""
    prompt = "Count from 1 to 10, separated by commas."  # the commas repeat
    # the repeat penalty left at the API's default: OpenAI's format has no field for it
    base = replace(ask(prompt, 16).params, repeat_penalty=SamplingParams.repeat_penalty)
    plain, _ = await collect(engine.chat_stream(replace(ask(prompt), params=base)))
    params = replace(base, frequency_penalty=1.0, presence_penalty=1.5)
    penalised = replace(ask(prompt), params=params)
    direct, _ = await collect(engine.chat_stream(penalised))
    async with OpenAICompatEngine(api.base_url, KEY, "smollm2") as remote:
        via_api, _ = await collect(remote.chat_stream(penalised))
    assert "".join(direct) != "".join(plain)
    assert "".join(via_api) == "".join(direct)


async def test_wrong_key_is_a_clear_error(api: ApiServer) -> None:
    async with OpenAICompatEngine(api.base_url, "wrong-key-0123456789", "smollm2") as remote:
        with pytest.raises(RemoteEngineError) as err:
            await collect(remote.chat_stream(ask("hi", 4)))
    assert "API key" in err.value.message


async def test_unreachable_server_is_a_clear_error() -> None:
    srv = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    srv.close()
    await srv.wait_closed()
    async with OpenAICompatEngine(f"http://127.0.0.1:{port}", "", "m") as remote:
        with pytest.raises(RemoteEngineError) as err:
            await collect(remote.chat_stream(ask("hi", 4)))
    assert "Cannot reach" in err.value.message


async def test_hostile_server_reply_is_a_clear_error_not_a_crash() -> None:
    """A backend answering with deeply nested JSON gets an error, not a stack overflow."""
    from aiohttp import web

    async def completions(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b"data: " + b"[" * 200_000 + b"\n\n")
        return resp

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    async with serving(app) as url, OpenAICompatEngine(url, "", "m") as remote:
        with pytest.raises(RemoteEngineError) as err:
            await collect(remote.chat_stream(ask("hi", 4)))
    assert "cannot read" in err.value.message
