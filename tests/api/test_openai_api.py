"""The local API as a user's tools see it: the official ``openai`` client against our server with
the real SmolLM2, plus the error answers a misconfigured client gets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import aiohttp
import openai
import pytest

from app.api.router import EngineRouter
from app.api.server import ApiServer
from app.inference.engine import LocalEngine
from app.inference.types import (
    ChatEngine,
    ChatRequest,
    EngineCrashed,
    StreamEvent,
    TokenDelta,
)
from tests.api.conftest import API_KEY
from tests.api.local_engine import MODEL_NAME

pytestmark = pytest.mark.asyncio(loop_scope="module")

HELLO = [{"role": "user", "content": "Say hello in one short sentence."}]


def client(api: ApiServer, key: str = API_KEY) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=api.base_url, api_key=key, max_retries=0, timeout=60)


async def test_openai_client_streams_real_tokens_and_matches_non_stream(api: ApiServer) -> None:
    messages = [{"role": "user", "content": "Count from 1 to 100, separated by commas."}]
    async with client(api) as c:
        stream = await c.chat.completions.create(
            model=MODEL_NAME,
            messages=messages,  # type: ignore[arg-type]
            stream=True,
            max_tokens=8,
            temperature=0,
            stream_options={"include_usage": True},
        )
        pieces: list[str] = []
        finish = None
        usage = None
        ids = set()
        async for chunk in stream:
            ids.add(chunk.id)
            assert chunk.object == "chat.completion.chunk"
            assert chunk.model == MODEL_NAME
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices:
                if choice.delta.content:
                    pieces.append(choice.delta.content)
                if choice.finish_reason:
                    finish = choice.finish_reason
        # the same request without streaming: one JSON object with the same greedy answer
        whole = await c.chat.completions.create(
            model=MODEL_NAME,
            messages=messages,  # type: ignore[arg-type]
            max_tokens=8,
            temperature=0,
        )
    assert len(pieces) >= 3, "tokens should arrive one chunk at a time"
    assert "".join(pieces).strip()
    assert finish == "length"  # the answer was cut at max_tokens
    assert len(ids) == 1 and next(iter(ids)).startswith("chatcmpl-")
    assert usage is not None and 0 < usage.completion_tokens <= 8
    assert usage.prompt_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens

    assert whole.object == "chat.completion"
    assert whole.choices[0].message.role == "assistant"
    assert whole.choices[0].message.content == "".join(pieces)
    assert whole.choices[0].finish_reason == "length"
    assert whole.usage is not None and whole.usage.completion_tokens == usage.completion_tokens


async def test_models_endpoint_lists_registered_models(api: ApiServer) -> None:
    async with client(api) as c:
        models = await c.models.list()
        one = await c.models.retrieve(MODEL_NAME)
    assert [m.id for m in models.data] == [MODEL_NAME]
    assert one.id == MODEL_NAME
    with pytest.raises(openai.NotFoundError):
        async with client(api) as c:
            await c.models.retrieve("no-such-model")


async def test_wrong_api_key_is_refused(api: ApiServer) -> None:
    async with client(api, key="mor-wrong-key-0000000000000") as c:
        with pytest.raises(openai.AuthenticationError) as info:
            await c.chat.completions.create(model=MODEL_NAME, messages=HELLO, max_tokens=4)  # type: ignore[arg-type]
    assert info.value.status_code == 401
    assert "API key" in info.value.message


async def _raw(
    api: ApiServer,
    method: str,
    path: str,
    *,
    data: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict]:  # type: ignore[type-arg]
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, api.base_url + path, data=data, headers=headers or {}) as r,
    ):
        return r.status, await r.json()


AUTH = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}


async def test_missing_api_key_is_401_with_openai_error_json(api: ApiServer) -> None:
    status, body = await _raw(api, "GET", "/models")
    assert status == 401
    assert body["error"]["code"] == "invalid_api_key"
    assert "Missing API key" in body["error"]["message"]
    status, _ = await _raw(
        api, "POST", "/chat/completions", data=b"{}", headers={"Authorization": "Basic abc"}
    )
    assert status == 401


async def test_oversized_body_is_413(api: ApiServer) -> None:
    big = json.dumps(
        {"model": MODEL_NAME, "messages": [{"role": "user", "content": "x" * (80 * 1024)}]}
    ).encode()
    status, body = await _raw(api, "POST", "/chat/completions", data=big, headers=AUTH)
    assert status == 413
    assert body["error"]["code"] == "request_too_large"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit still holds
        for _ in range(20):
            yield b" " * 8192

    async with (
        aiohttp.ClientSession() as s,
        s.post(api.base_url + "/chat/completions", data=chunks(), headers=AUTH) as r,
    ):
        assert r.status == 413


async def test_malformed_json_and_missing_fields_are_400(api: ApiServer) -> None:
    status, body = await _raw(api, "POST", "/chat/completions", data=b"{not json", headers=AUTH)
    assert status == 400
    assert "not valid JSON" in body["error"]["message"]

    status, body = await _raw(
        api,
        "POST",
        "/chat/completions",
        data=json.dumps({"model": MODEL_NAME}).encode(),
        headers=AUTH,
    )
    assert status == 400
    assert "'messages' is required" in body["error"]["message"]

    async with client(api) as c:
        with pytest.raises(openai.BadRequestError) as info:
            await c.chat.completions.create(
                model=MODEL_NAME,
                messages=[{"role": "tool", "content": "x"}],
                max_tokens=2,  # type: ignore[list-item,misc]
            )
        assert "role" in info.value.message
        with pytest.raises(openai.BadRequestError):
            await c.chat.completions.create(
                model=MODEL_NAME,
                messages=HELLO,
                temperature=7,  # type: ignore[arg-type]
            )


async def test_unknown_model_is_404(api: ApiServer) -> None:
    async with client(api) as c:
        with pytest.raises(openai.NotFoundError) as info:
            await c.chat.completions.create(model="gpt-17", messages=HELLO)  # type: ignore[arg-type]
    assert MODEL_NAME in info.value.message  # tells the user what exists


async def test_prompt_longer_than_context_is_400(api: ApiServer) -> None:
    long_text = "The quick brown fox jumps over the lazy dog. " * 400  # ~4000 tokens > 2048
    async with client(api) as c:
        with pytest.raises(openai.BadRequestError) as info:
            await c.chat.completions.create(
                model=MODEL_NAME, messages=[{"role": "user", "content": long_text}], max_tokens=4
            )
        assert info.value.code == "context_length_exceeded"
        # ... and the engine still answers afterwards.
        ok = await c.chat.completions.create(model=MODEL_NAME, messages=HELLO, max_tokens=2)  # type: ignore[arg-type]
    assert ok.choices[0].message.content


class CrashingEngine:
    """Stands for an engine whose process died: before the first token, or after one."""

    def __init__(self, tokens_before_crash: int) -> None:
        self.tokens_before_crash = tokens_before_crash

    async def model_names(self) -> list[str]:
        return ["crashy"]

    async def chat_stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        for _ in range(self.tokens_before_crash):
            yield TokenDelta("word ")
        raise EngineCrashed("The local model stopped unexpectedly. It is restarting; try again.")


async def test_engine_crash_is_503_or_an_in_stream_error() -> None:
    router = EngineRouter()
    router.register("crashy", CrashingEngine(0))
    router.register("crashy-late", CrashingEngine(2))
    async with ApiServer(router, API_KEY) as api, client(api) as c:
        with pytest.raises(openai.InternalServerError) as info:
            await c.chat.completions.create(model="crashy", messages=HELLO)  # type: ignore[arg-type]
        assert info.value.status_code == 503
        with pytest.raises(openai.InternalServerError):
            await c.chat.completions.create(model="crashy", messages=HELLO, stream=True)  # type: ignore[arg-type]
        stream = await c.chat.completions.create(model="crashy-late", messages=HELLO, stream=True)  # type: ignore[arg-type]
        got = []
        with pytest.raises(openai.APIError) as late:
            async for chunk in stream:
                got.append(chunk.choices[0].delta.content or "")
        assert "".join(got) == "word word "
        assert "restarting" in late.value.message


class ObservedEngine:
    """Passes a real engine through and records when its stream is torn down."""

    def __init__(self, inner: ChatEngine) -> None:
        self.inner = inner
        self.tokens = 0
        self.closed = asyncio.Event()
        self.first_token = asyncio.Event()

    async def model_names(self) -> list[str]:
        return await self.inner.model_names()

    async def chat_stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        stream = self.inner.chat_stream(request)
        try:
            async for event in stream:
                if isinstance(event, TokenDelta):
                    self.tokens += 1
                    self.first_token.set()
                yield event
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
            self.closed.set()


async def test_client_disconnect_cancels_generation(real_engine: LocalEngine) -> None:
    observed = ObservedEngine(real_engine)
    router = EngineRouter()
    router.register(MODEL_NAME, observed)
    body = {
        "model": MODEL_NAME,
        "messages": [{"role": "user", "content": "Write a very long story about a dragon."}],
        "max_tokens": 1500,
        "stream": True,
    }
    async with ApiServer(router, API_KEY) as api:
        session = aiohttp.ClientSession()
        resp = await session.post(api.base_url + "/chat/completions", json=body, headers=AUTH)
        assert resp.status == 200
        await observed.first_token.wait()
        resp.close()
        await session.close()
        await asyncio.wait_for(observed.closed.wait(), timeout=20)
        assert observed.tokens < 1500
        produced = observed.tokens
        # the engine's child confirms the cancel and frees the slot (no event to wait on: poll)
        deadline = asyncio.get_running_loop().time() + 20
        while real_engine.active and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        assert real_engine.active == 0
        # nothing keeps generating in the background
        async with client(api) as c:
            ok = await c.chat.completions.create(model=MODEL_NAME, messages=HELLO, max_tokens=3)  # type: ignore[arg-type]
        assert ok.choices[0].message.content
        assert observed.tokens <= produced + 3


async def test_deeply_nested_body_is_400_and_the_server_lives(api: ApiServer) -> None:
    """60 000 brackets fit in the body limit; parsing them recursively would overflow the C stack
    (py_ecc raises Python's recursion limit), taking the whole program down with it."""
    status, body = await _raw(api, "POST", "/chat/completions", data=b"[" * 60_000, headers=AUTH)
    assert status == 400
    assert "nested deeper" in body["error"]["message"]
    status, _ = await _raw(api, "GET", "/models", headers=AUTH)
    assert status == 200
