"""`--chunk-ms`: how long a provider lets tokens gather into one chunk. 0 sends every token on
its own, as the reference Go node does, through the real provider service and consumer."""

from __future__ import annotations

import pytest

from app.cli import build_parser
from app.inference.types import ChatMessage, ChatRequest, CompletionDone, SamplingParams, TokenDelta
from app.p2p.provider_types import ProviderConfig
from tests.e2e.conftest import Market

PRICE = 10**13


@pytest.mark.asyncio(loop_scope="session")
async def test_chunk_ms_zero_streams_one_chunk_per_token(market: Market) -> None:
    market.provider.stream_interval_ms = 0  # what `provider serve --chunk-ms 0` sets
    bid_id = await market.provider.go_online(PRICE)
    assert market.provider.server is not None
    assert market.provider.server.config.stream_interval_ms == 0
    opened = await market.consumer.open_session(bid_id, 600)
    request = ChatRequest((ChatMessage("user", "Count from one to ten."),),
                          SamplingParams(max_tokens=10, temperature=0.0))
    chunks = 0
    done: CompletionDone | None = None
    async for ev in opened.engine.chat_stream(request):
        if isinstance(ev, TokenDelta):
            chunks += 1
        else:
            done = ev
    assert done is not None and done.metrics.completion_tokens >= 2
    assert chunks == done.metrics.completion_tokens


def test_both_serve_commands_take_chunk_ms() -> None:
    parser = build_parser()
    serve = ["provider", "serve"]
    hot = ["provider", "serve-hot", "--provider", "0x" + "11" * 20, "--hot-key", "k.json"]
    assert parser.parse_args(serve).chunk_ms == ProviderConfig.stream_interval_ms
    assert parser.parse_args([*serve, "--chunk-ms", "0"]).chunk_ms == 0
    assert parser.parse_args([*hot, "--chunk-ms", "20"]).chunk_ms == 20


@pytest.mark.parametrize("value", ["-1", "abc", "5000"])
def test_chunk_ms_out_of_range_is_refused_with_a_reason(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["provider", "serve", "--chunk-ms", value])
    assert "--chunk-ms" in capsys.readouterr().err
