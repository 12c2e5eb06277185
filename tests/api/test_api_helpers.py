"""Small API pieces that need no server: loopback detection, request parsing, the router."""

from __future__ import annotations

import pytest

from app.api.openai_format import ApiError, parse_chat_request
from app.api.router import EngineRouter, UnknownModel
from app.api.server import is_loopback


def test_only_loopback_counts_as_local() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert not is_loopback("example.com")


def test_request_parsing_maps_openai_fields() -> None:
    req, stream, usage = parse_chat_request(
        {
            "model": "m",
            "messages": [
                {"role": "developer", "content": "be brief"},
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "hi "}, {"type": "text", "text": "there"}],
                },
                {"role": "assistant", "content": None},
            ],
            "max_completion_tokens": 9,
            "temperature": 0,
            "stop": "END",
            "seed": 3,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    )
    assert [(m.role, m.content) for m in req.messages] == [
        ("system", "be brief"),
        ("user", "hi there"),
        ("assistant", ""),
    ]
    assert (req.params.max_tokens, req.params.temperature, req.params.stop, req.params.seed) == (
        9,
        0.0,
        ("END",),
        3,
    )
    assert stream and usage and req.model == "m"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ([], "JSON object"),
        ({"messages": [{"role": "user", "content": "x"}]}, "'model' is required"),
        ({"model": "m", "messages": []}, "'messages' is required"),
        ({"model": "m", "messages": ["hi"]}, "messages[0]"),
        ({"model": "m", "messages": [{"role": "user", "content": 5}]}, "must be a string"),
        (
            {"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
            "text parts",
        ),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0},
            "max_tokens",
        ),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": "5"},
            "whole number",
        ),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "top_p": 2}, "top_p"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": [1]}, "stop"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 3}, "'n'"),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "repeat_penalty": 0},
            "above 0",
        ),
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}], "presence_penalty": 3},
            "presence_penalty",
        ),
    ],
)
def test_bad_requests_get_a_message_naming_the_problem(body: object, needle: str) -> None:
    with pytest.raises(ApiError) as info:
        parse_chat_request(body)
    assert info.value.status == 400
    assert needle in info.value.message


def test_router_resolves_registered_names_only() -> None:
    class Dummy:
        async def model_names(self) -> list[str]:
            return ["a"]

        def chat_stream(self, request):  # type: ignore[no-untyped-def]
            raise NotImplementedError

    r = EngineRouter()
    engine = Dummy()
    r.register("a", engine)  # type: ignore[arg-type]
    assert r.resolve("a") is engine and r.names() == ["a"] and "a" in r
    with pytest.raises(UnknownModel, match="Available models: a"):
        r.resolve("b")
    r.unregister("a")
    assert len(r) == 0


async def test_non_loopback_host_is_warned_about_and_bind_errors_are_clear(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from app.api.server import ApiServer
    from app.errors import UserFacingError

    # 192.0.2.1 is a documentation address no machine has: the bind fails, nothing is exposed
    server = ApiServer(EngineRouter(), "mor-test-key-0123456789abcdef", host="192.0.2.1")
    with caplog.at_level("WARNING", logger="app.api.server"), pytest.raises(UserFacingError) as e:
        await server.start()
    assert "not only on this computer" in caplog.text
    assert "could not listen on 192.0.2.1" in e.value.message
    assert "mor-test-key" not in caplog.text
