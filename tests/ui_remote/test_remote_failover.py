"""Failover on the real devnet with two real providers serving the real SmolLM2: when the
provider of the open session stops answering mid-conversation, its session is closed on chain
(with the user's own receipt), a session with the other provider is opened for the time that was
left, and the same request is answered from there."""

from __future__ import annotations

import pytest

from app.chain.devnet import Devnet
from app.inference.types import (
    ChatMessage,
    ChatRequest,
    CompletionDone,
    SamplingParams,
    StreamEvent,
    TokenDelta,
)
from app.services.remote_chat import (
    CannotSwitch,
    ProviderFailedMidAnswer,
    ProviderSwitched,
    RemoteChat,
    RemoteState,
    network_models,
    short_address,
)
from tests.ui_remote.conftest import MODEL_NAME, Headless, Providers

pytestmark = pytest.mark.asyncio(loop_scope="module")


def ask(text: str) -> ChatRequest:
    return ChatRequest((ChatMessage("user", text),), SamplingParams(max_tokens=8, temperature=0.0))


async def collect(remote: RemoteChat, request: ChatRequest) -> list[StreamEvent]:
    return [ev async for ev in remote.chat_stream(request)]


def answer(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TokenDelta))


async def open_best(consumer: Headless, duration_s: int) -> RemoteChat:
    [model] = [m for m in await network_models(consumer.service) if m.name == MODEL_NAME]
    remote = RemoteChat(consumer.service, model)
    await remote.open(model.bids[0].bid.id, duration_s)
    return remote


async def test_network_models_group_both_providers_best_first(
    providers: Providers, consumer: Headless
) -> None:
    [model] = [m for m in await network_models(consumer.service) if m.name == MODEL_NAME]
    assert model.providers == 2
    assert model.label == f"Network · {MODEL_NAME} · 2 providers"
    # Same quality so far, so the cheaper bid rates higher.
    assert [rb.bid.id for rb in model.bids] == providers.bids
    assert model.bids[0].score > model.bids[1].score


async def test_failed_provider_is_replaced_and_the_request_answered(
    providers: Providers, consumer: Headless
) -> None:
    chain = consumer.chain
    remote = await open_best(consumer, 900)
    first = remote.record
    assert first is not None and remote.state is RemoteState.OPEN
    failing = providers.by_address(first.provider)
    other = next(p for p in providers.services if p is not failing)
    assert failing is providers.services[0]  # the best-rated bid was used

    events = await collect(remote, ask("Say hello."))
    assert answer(events).strip() and isinstance(events[-1], CompletionDone)
    assert not any(isinstance(e, ProviderSwitched) for e in events)

    # The provider goes away between two prompts of the conversation.
    assert failing.server is not None
    await failing.server.stop()
    failing.server = None
    left_before = first.ends_at - await chain.latest_timestamp()

    events = await collect(remote, ask("Say hello again."))

    switched = [e for e in events if isinstance(e, ProviderSwitched)]
    expect = (f"Provider {short_address(failing.me)} failed; switched to provider "
              f"{short_address(other.me)}.")
    assert [s.notice for s in switched] == [expect] and remote.notices == [expect]
    after = events[events.index(switched[0]) + 1:]
    assert answer(after).strip(), "the retried request must be answered by the other provider"
    assert isinstance(events[-1], CompletionDone) and events[-1].metrics.completion_tokens > 0
    assert other.dashboard.tokens_served > 0 and failing.dashboard.tokens_served > 0

    # The failed session is closed on chain with our own receipt (a dispute), stake returned.
    old = await chain.get_session(first.session_id)
    assert old.closed_at > 0 and not old.is_active and old.disputed
    [closed] = remote.replaced
    assert closed.status == "closed" and closed.refunded > 0
    # The new one is with the other provider for the time that was left.
    new = remote.record
    assert new is not None and new.provider == other.me and remote.state is RemoteState.OPEN
    s = await chain.get_session(new.session_id)
    assert s.is_active and s.user == consumer.service.user
    assert left_before - 30 <= s.ends_at - s.opened_at <= left_before + 1
    assert 0 < remote.remaining_s() <= s.ends_at - s.opened_at

    # Ends cleanly: closing returns the new stake too.
    rec = await remote.close()
    assert remote.state is RemoteState.CLOSED and remote.record is None
    assert (await chain.get_session(rec.session_id)).closed_at > 0 and rec.refunded > 0


async def test_too_little_time_left_tells_the_user_instead_of_switching(
    providers: Providers, consumer: Headless, chain_snapshot: Devnet
) -> None:
    chain = consumer.chain
    remote = await open_best(consumer, 600)
    first = remote.record
    assert first is not None
    failing = providers.by_address(first.provider)
    assert failing.server is not None
    await failing.server.stop()
    failing.server = None
    chain_snapshot.time_travel(first.ends_at - await chain.latest_timestamp() - 200)

    with pytest.raises(CannotSwitch) as err:
        await collect(remote, ask("Hello?"))

    assert "too little for a new one" in err.value.message
    assert err.value.message.startswith(f"Provider {short_address(failing.me)} failed.")
    assert remote.state is RemoteState.CLOSED and remote.record is None
    assert (await chain.get_session(first.session_id)).closed_at > 0
    assert await chain.user_session_ids(consumer.service.user) == [first.session_id]


async def test_provider_dying_in_the_middle_of_an_answer_fails_over(
    providers: Providers, consumer: Headless
) -> None:
    """A connection cut mid-answer is a failure, not a short reply. The text already shown is
    never repeated: the answer ends with a plain error, the session moves to the other provider
    at once, and asking again is answered there."""
    remote = await open_best(consumer, 900)
    first = remote.record
    assert first is not None
    failing = providers.by_address(first.provider)
    other = next(p for p in providers.services if p is not failing)
    request = ChatRequest((ChatMessage("user", "Count from one to fifty."),),
                          SamplingParams(max_tokens=64, temperature=0.0))

    events: list[StreamEvent] = []
    with pytest.raises(ProviderFailedMidAnswer) as err:
        async for ev in remote.chat_stream(request):
            events.append(ev)
            if isinstance(ev, TokenDelta) and failing.server is not None:
                await failing.server.stop()  # the provider dies after its first token
                failing.server = None
    assert not any(isinstance(e, ProviderSwitched) for e in events), "no replay"
    assert len([e for e in events if isinstance(e, TokenDelta) and e.text]) >= 1
    assert short_address(other.me) in err.value.message and "Ask again" in err.value.message
    assert (await consumer.chain.get_session(first.session_id)).closed_at > 0
    assert remote.record is not None and remote.record.provider == other.me

    again = [ev async for ev in remote.chat_stream(request)]
    assert answer(again).strip() and isinstance(again[-1], CompletionDone)
    await remote.close()
