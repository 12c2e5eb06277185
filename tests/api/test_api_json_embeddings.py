"""JSON mode, embeddings and tools with the official ``openai`` client against the real SmolLM2:
JSON mode answers are parseable JSON objects (a llama.cpp grammar holds the model to it),
embeddings come from the local engine (similar texts closer than unrelated ones, in floats and in
the client's default base64), and tools are refused with a clear 400, never ignored."""

from __future__ import annotations

import json
import math

import openai
import pytest

from app.api.server import ApiServer
from tests.api.conftest import API_KEY
from tests.api.local_engine import MODEL_NAME

pytestmark = pytest.mark.asyncio(loop_scope="module")


def client(api: ApiServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=api.base_url, api_key=API_KEY, max_retries=0, timeout=120)


async def test_json_mode_returns_parseable_json(api: ApiServer) -> None:
    async with client(api) as c:
        # (As with OpenAI, the prompt should ask for JSON: a 135M model left to itself may
        # write one endless string, valid so far but cut by max_tokens.)
        for prompt in ("Describe a cat with the keys name and color.",
                       "Answer in JSON with the key answer: what is 2 + 2?"):
            reply = await c.chat.completions.create(
                model=MODEL_NAME, max_tokens=200, temperature=0.0,
                response_format={"type": "json_object"},
                messages=[{"role": "user", "content": prompt}],
            )
            choice = reply.choices[0]
            assert choice.finish_reason == "stop", choice.message.content
            assert isinstance(json.loads(choice.message.content or ""), dict)
        # Streaming too: the pieces join into one JSON object.
        stream = await c.chat.completions.create(
            model=MODEL_NAME, max_tokens=200, temperature=0.0, stream=True,
            response_format={"type": "json_object"},
            messages=[{"role": "user", "content": "Describe a dog with the keys name and breed."}],
        )
        text = "".join([ch.choices[0].delta.content or "" async for ch in stream if ch.choices])
        assert isinstance(json.loads(text), dict)


async def test_unsupported_response_formats_and_tools_are_refused(api: ApiServer) -> None:
    hello = [{"role": "user", "content": "Hi"}]
    async with client(api) as c:
        with pytest.raises(openai.BadRequestError) as err:
            await c.chat.completions.create(
                model=MODEL_NAME, messages=hello,
                tools=[{"type": "function", "function": {"name": "get_weather",
                                                         "parameters": {"type": "object"}}}],
            )
        assert err.value.status_code == 400 and err.value.code == "unsupported_parameter"
        assert "tool calling" in err.value.message
        assert err.value.body["param"] == "tools"  # type: ignore[index]
        with pytest.raises(openai.BadRequestError) as err:
            await c.chat.completions.create(
                model=MODEL_NAME, messages=hello,
                response_format={"type": "json_schema", "json_schema": {"name": "x"}},
            )
        assert "json_schema" in err.value.message
        with pytest.raises(openai.BadRequestError):
            await c.chat.completions.create(
                model=MODEL_NAME, messages=hello, response_format={"type": "yaml"})  # type: ignore[arg-type,misc]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (
        math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


async def test_embeddings_from_the_local_engine(api: ApiServer) -> None:
    texts = ["The cat sat on the mat.", "A kitten is sitting on a rug.",
             "Quarterly tax filings are due in April."]
    async with client(api) as c:
        floats = await c.embeddings.create(model=MODEL_NAME, input=texts,
                                           encoding_format="float")
        vecs = [d.embedding for d in floats.data]
        assert [d.index for d in floats.data] == [0, 1, 2]
        assert len({len(v) for v in vecs}) == 1 and len(vecs[0]) >= 64
        assert all(abs(math.sqrt(sum(x * x for x in v)) - 1.0) < 1e-3 for v in vecs)
        assert cosine(vecs[0], vecs[1]) > cosine(vecs[0], vecs[2])
        assert floats.usage.prompt_tokens > 0 and floats.model == MODEL_NAME

        # The client's default asks for base64 and decodes it: the same vector comes back.
        one = await c.embeddings.create(model=MODEL_NAME, input=texts[0])
        assert len(one.data) == 1
        assert max(abs(x - y) for x, y in zip(one.data[0].embedding, vecs[0], strict=True)) < 1e-4

        with pytest.raises(openai.BadRequestError) as err:
            await c.embeddings.create(model=MODEL_NAME, input=[[1, 2, 3]])
        assert err.value.body["param"] == "input"  # type: ignore[index]
        with pytest.raises(openai.NotFoundError):
            await c.embeddings.create(model="no-such-model", input="x")

        # Chat still works after embeddings ran in the same engine.
        reply = await c.chat.completions.create(
            model=MODEL_NAME, max_tokens=4, messages=[{"role": "user", "content": "Hi"}])
        assert reply.choices[0].message.content
