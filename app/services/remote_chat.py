"""Remote chat: one network model's session with a provider, seen as a ``ChatEngine``, with
failover. No Qt.

Why a state machine of its own: the chat page only knows "an engine that streams". Which
provider serves it, how long the paid session still runs, and what to do when that provider drops
out mid-conversation (close its session so the stake comes back, open one with the next-best
provider for the time that was left, ask again once) is decided here, so the GUI, the CLI and tests
share one behaviour.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from app.chain.delegation import checker_for
from app.errors import UserFacingError
from app.inference.types import ChatRequest, StreamEvent, TokenDelta
from app.market.rating import RatedBid
from app.market.types import Model
from app.p2p.consumer_client import ProviderClient
from app.p2p.errors import ProtocolError, ProviderMisbehaved, ProviderUnreachable
from app.p2p.remote_engine import RemoteSessionEngine
from app.services.consumer_service import (
    MIN_SESSION_S,
    ConsumerService,
    NoProviderAvailable,
    OpenedSession,
)
from app.storage.sessions import SessionRecord

log = logging.getLogger(__name__)

#: Transport/protocol failures that mean "this provider is gone", unlike a provider's own signed
#: error reply (``ProviderRejected``), which it would answer again. ``PeerTimeout`` is a
#: ``ProtocolError``.
FAILOVER_ERRORS: tuple[type[UserFacingError], ...] = (
    ProviderUnreachable,
    ProtocolError,
    ProviderMisbehaved,
)
#: How many other providers a failover tries before giving up.
MAX_SWITCH_TRIES = 3

Listener = Callable[[], None]
StepCallback = Callable[[str], None]


def short_address(address: str) -> str:
    """``0x1234…abcd``: enough to tell providers apart in a sentence."""
    a = address.strip()
    return a if len(a) <= 12 else f"{a[:6]}…{a[-4:]}"


# -- what the network offers -----------------------------------------------------------------


@dataclass(frozen=True)
class NetworkModel:
    """All offers for one model name. Each provider here registers its own on-chain model id,
    so offers are grouped by name; bids are best first (rating score)."""

    name: str
    model_ids: tuple[str, ...]
    bids: tuple[RatedBid, ...]

    @property
    def providers(self) -> int:
        return len({rb.bid.provider.lower() for rb in self.bids})

    @property
    def label(self) -> str:
        n = self.providers
        return f"Network · {self.name} · {n} provider{'s' if n != 1 else ''}"

    @property
    def key(self) -> str:
        """The chat page's model key (settings, stored conversations): distinct from the local
        model with the same name."""
        return f"network/{self.name}"


def group_network_models(entries: Iterable[tuple[Model, list[RatedBid]]]) -> list[NetworkModel]:
    """Merge ``ConsumerService.network_models()`` entries that share a name (case-insensitive)."""
    groups: dict[str, tuple[str, list[str], list[RatedBid]]] = {}
    for model, rated in entries:
        name = model.name.strip() or model.id
        _name, ids, bids = groups.setdefault(name.lower(), (name, [], []))
        ids.append(model.id)
        bids.extend(rated)
    out = [
        NetworkModel(name, tuple(ids), tuple(sorted(bids, key=lambda rb: -rb.score)))
        for name, ids, bids in groups.values()
    ]
    return sorted(out, key=lambda m: m.name.lower())


async def network_models(consumer: ConsumerService) -> list[NetworkModel]:
    return group_network_models(await consumer.network_models())


async def bids_for(consumer: ConsumerService, model_name: str) -> list[RatedBid]:
    for m in await network_models(consumer):
        if m.name.lower() == model_name.lower():
            return list(m.bids)
    return []


@dataclass(frozen=True)
class Reachability:
    ok: bool
    ms: float = 0.0
    detail: str = ""

    @property
    def text(self) -> str:
        return f"ok · {self.ms:.0f} ms" if self.ok else "unreachable"


async def ping_provider(consumer: ConsumerService, provider: str) -> Reachability:
    """Signed ``network.ping`` to the provider's on-chain endpoint (3 s connect timeout)."""
    try:
        info = await consumer.chain.get_provider(provider)
        client = ProviderClient(info.endpoint, consumer.node_key, provider,
                                chain_id=consumer.chain_id, read_timeout=5.0, idle_timeout=5.0,
                                delegate_check=checker_for(consumer.chain))
        start = time.perf_counter()
        await client.ping()
        return Reachability(True, (time.perf_counter() - start) * 1000)
    except UserFacingError as exc:
        return Reachability(False, detail=exc.detail or exc.message)


# -- the session state machine ---------------------------------------------------------------


class RemoteState(StrEnum):
    IDLE = "idle"  # no session yet (or the last one closed): pick a provider and open one
    OPENING = "opening"
    OPEN = "open"
    SWITCHING = "switching"  # the provider failed; moving to the next one
    CLOSING = "closing"
    CLOSED = "closed"


@dataclass(frozen=True)
class ProviderSwitched(TokenDelta):
    """Marks, inside an answer's stream, that the provider failed and the request restarts with
    another one: text streamed before it belongs to the abandoned attempt. A plain ``TokenDelta``
    with no text to code that does not know it."""

    notice: str = ""


class NoSessionOpen(UserFacingError):
    pass


class CannotSwitch(UserFacingError):
    """The provider failed and no replacement session could be opened."""


class ProviderFailedMidAnswer(UserFacingError):
    """The provider failed after part of the answer had gone out: that part cannot be taken
    back, so the answer ends here with this error instead of starting again elsewhere."""


#: ``before_open(bid_id, duration_s)``: a last check before staking (e.g. a spending limit);
#: a ``UserFacingError`` it raises stops the open.
BeforeOpen = Callable[[str, int], Awaitable[None]]


class RemoteChat:
    """The open session (if any) for one network model; its ``chat_stream`` fails over.

    ``clock`` is the wall clock; chain time is estimated from it with the offset seen when the
    session opened (a devnet's clock can run ahead after time travel).

    The failover rule: a provider that fails before the first token of an answer is replaced
    and the request goes to the next-best one. After text went out the answer is never
    repeated: it ends with ``ProviderFailedMidAnswer``. ``mid_answer`` says what happens to the
    session: the chat window ("switch") moves to the next-best provider at once, so asking again
    just works; the HTTP API ("close") closes it and opens one on the next request.
    """

    def __init__(
        self, consumer: ConsumerService, model: NetworkModel, *,
        clock: Callable[[], float] = time.time,
        mid_answer: Literal["switch", "close"] = "switch",
        before_open: BeforeOpen | None = None,
        on_opened: Callable[[SessionRecord], None] | None = None,
    ) -> None:
        self.consumer = consumer
        self.model = model
        self.clock = clock
        self.state = RemoteState.IDLE
        self.record: SessionRecord | None = None
        self.engine: RemoteSessionEngine | None = None
        self.last_closed: SessionRecord | None = None
        self.failed_providers: set[str] = set()
        self.replaced: list[SessionRecord] = []  # sessions closed by failover
        self.notices: list[str] = []
        self.error = ""
        self._chain_offset = 0.0
        self._listeners: list[Listener] = []
        self.mid_answer = mid_answer
        self.before_open = before_open
        self.on_opened = on_opened

    # -- observers ---------------------------------------------------------------------------

    def on_change(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _set(self, state: RemoteState, error: str = "") -> None:
        self.state = state
        self.error = error
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                log.exception("remote chat listener failed")

    # -- ChatEngine --------------------------------------------------------------------------

    async def model_names(self) -> list[str]:
        return [self.model.key]

    @property
    def is_open(self) -> bool:
        return self.record is not None and self.engine is not None

    def chain_now(self) -> int:
        return int(self.clock() + self._chain_offset)

    def remaining_s(self) -> int:
        """Seconds the open session still runs (0 when none is open)."""
        if self.record is None:
            return 0
        return max(0, self.record.ends_at - self.chain_now())

    async def _sync_clock(self) -> None:
        self._chain_offset = await self.consumer.chain.latest_timestamp() - self.clock()

    # -- open / close ------------------------------------------------------------------------

    async def open(
        self, bid_id: str, duration_s: int, *, on_step: StepCallback | None = None
    ) -> SessionRecord:
        if self.is_open:
            raise UserFacingError("A session is already open for this model; close it first.")
        self._set(RemoteState.OPENING)
        try:
            opened = await self.consumer.open_session(bid_id, duration_s,
                                                      on_step=on_step or (lambda _s: None))
        except BaseException as exc:
            self._set(RemoteState.IDLE,
                      exc.message if isinstance(exc, UserFacingError) else "")
            raise
        await self._use(opened)
        self.failed_providers.clear()
        self._set(RemoteState.OPEN)
        return opened.record

    async def _use(self, opened: OpenedSession) -> None:
        self.record = opened.record
        self.engine = opened.engine
        self.engine.model_name = self.model.name
        if self.on_opened is not None:
            self.on_opened(opened.record)
        await self._sync_clock()

    async def close(self, *, on_step: StepCallback | None = None) -> SessionRecord:
        """Close now: the unused stake comes back, today's share is held until UTC midnight."""
        if self.record is None:
            raise NoSessionOpen("No session is open.")
        sid = self.record.session_id
        self._set(RemoteState.CLOSING)
        try:
            closed = await self.consumer.close_session(sid, on_step=on_step or (lambda _s: None))
        except BaseException as exc:
            self._set(RemoteState.OPEN, exc.message if isinstance(exc, UserFacingError) else "")
            raise
        self.record = None
        self.engine = None
        self.last_closed = closed
        self._set(RemoteState.CLOSED)
        return closed

    def refresh(self) -> None:
        """Follow what the background jobs did (e.g. the session closed at its end)."""
        if self.record is None:
            return
        rec = self.consumer.sessions.get(self.record.session_id, "consumer")
        if rec is not None and rec.status == "closed":
            self.record = None
            self.engine = None
            self.last_closed = rec
            self._set(RemoteState.CLOSED)

    # -- streaming with failover -------------------------------------------------------------

    async def chat_stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        self.refresh()
        if self.engine is None or self.record is None:
            raise NoSessionOpen(
                f"Open a session with a provider of {self.model.name} first: pick one above the "
                "chat and press “Open session”."
            )
        if self.remaining_s() <= 0:
            raise NoSessionOpen(
                "This session has ended; its stake comes back automatically. Open a new session "
                "to go on."
            )
        failure: UserFacingError | None = None
        text_sent = False
        try:
            async for event in self.engine.chat_stream(request):
                if isinstance(event, TokenDelta) and event.text:
                    text_sent = True
                yield event
            return
        except FAILOVER_ERRORS as exc:
            failure = exc
        log.warning("provider %s failed mid-conversation: %s (%s)", self.record.provider,
                    failure.message, failure.detail)
        if text_sent and self.mid_answer == "close":
            raise await self._end_mid_answer(failure)
        notice = await self.fail_over()
        if text_sent:
            message = (f"The provider stopped in the middle of the answer ({failure.message}). "
                       f"{notice} Ask again for a full answer.")
            self.notices.append(message)
            raise ProviderFailedMidAnswer(message)
        yield ProviderSwitched("", tokens=0, notice=notice)
        assert self.engine is not None
        async for event in self.engine.chat_stream(request):
            yield event

    async def _end_mid_answer(self, failure: UserFacingError) -> ProviderFailedMidAnswer:
        """Close the failed session (the stake comes back); the next request opens another."""
        failed = self.record
        assert failed is not None
        self.failed_providers.add(failed.provider.lower())
        self._set(RemoteState.SWITCHING)
        try:
            self.replaced.append(await self.consumer.close_session(failed.session_id))
        except UserFacingError as exc:  # the close job keeps retrying on its own
            log.warning("closing the failed session %s: %s", failed.session_id, exc.message)
            self.replaced.append(failed)
        self.record = None
        self.engine = None
        message = (f"Provider {short_address(failed.provider)} stopped in the middle of the "
                   f"answer ({failure.message}). The answer ends here; ask again for a full one "
                   "from another provider. Its session was closed and the stake comes back.")
        self.notices.append(message)
        self._set(RemoteState.CLOSED, message)
        return ProviderFailedMidAnswer(message)

    async def fail_over(self) -> str:
        """Close the failed session (with our own receipt if the provider cannot sign one), then
        open one with the next-best other provider for the time that was left. Returns the
        sentence to show; raises ``CannotSwitch`` when that is not possible."""
        failed = self.record
        assert failed is not None
        who = short_address(failed.provider)
        self.failed_providers.add(failed.provider.lower())
        self._set(RemoteState.SWITCHING)
        await self._sync_clock()
        remaining = self.remaining_s()
        try:
            closed = await self.consumer.close_session(failed.session_id)
            self.replaced.append(closed)
        except UserFacingError as exc:  # the close job keeps retrying on its own
            log.warning("closing the failed session %s: %s", failed.session_id, exc.message)
            self.replaced.append(failed)
        self.record = None
        self.engine = None
        if remaining < MIN_SESSION_S:
            return self._give_up(
                f"Provider {who} failed. Only {remaining // 60} min were left of the session, too "
                "little for a new one (at least 5 minutes), so it was closed and its stake comes "
                "back. Open a new session to go on."
            )
        try:
            candidates = [rb for rb in await bids_for(self.consumer, self.model.name)
                          if rb.bid.provider.lower() not in self.failed_providers]
        except UserFacingError as exc:
            return self._give_up(f"Provider {who} failed, and the list of other providers could "
                                 f"not be read: {exc.message}")
        last_error = ""
        for rb in candidates[:MAX_SWITCH_TRIES]:
            try:
                if self.before_open is not None:
                    await self.before_open(rb.bid.id, remaining)
                opened = await self.consumer.open_session(rb.bid.id, remaining)
            except FAILOVER_ERRORS as exc:
                self.failed_providers.add(rb.bid.provider.lower())
                last_error = exc.message
                continue
            except UserFacingError as exc:
                return self._give_up(f"Provider {who} failed, and a session with another provider "
                                     f"could not be opened: {exc.message}")
            await self._use(opened)
            notice = (f"Provider {who} failed; switched to provider "
                      f"{short_address(opened.record.provider)}.")
            self.notices.append(notice)
            self._set(RemoteState.OPEN)
            return notice
        why = f" ({last_error})" if last_error else ""
        return self._give_up(
            f"Provider {who} failed, and no other provider of {self.model.name} is available "
            f"right now{why}. Its session was closed and the stake comes back; try again later."
        )

    def _give_up(self, message: str) -> str:
        self.notices.append(message)
        self._set(RemoteState.CLOSED, message)
        raise CannotSwitch(message)


__all__ = [
    "FAILOVER_ERRORS",
    "CannotSwitch",
    "NetworkModel",
    "NoProviderAvailable",
    "NoSessionOpen",
    "ProviderFailedMidAnswer",
    "ProviderSwitched",
    "Reachability",
    "RemoteChat",
    "RemoteState",
    "bids_for",
    "group_network_models",
    "network_models",
    "ping_provider",
    "short_address",
]
