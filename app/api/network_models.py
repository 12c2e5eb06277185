"""Network models in the local API: ``mor/<model name>`` answered by Morpheus providers, with no
manual session.

Why here (services, not the HTTP server): a request for a network model has to open a session
with the best-rated bid, reuse it, replace it before it ends, close it when unused, and stay
inside the day's spending limit, all on the wallet's consumer service, whose jobs run under the
job supervisor (an interrupted open or close is finished by it, so no stake is stranded). The
server only sees one more ``ChatEngine`` per name.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from app.api.openai_format import ApiError
from app.errors import UserFacingError
from app.inference.types import ChatRequest, StreamEvent
from app.services.api_spend import SpendingLimitReached, SpendLedger, mor
from app.services.consumer_service import ConsumerService
from app.services.remote_chat import (
    FAILOVER_ERRORS,
    MAX_SWITCH_TRIES,
    CannotSwitch,
    NetworkModel,
    ProviderFailedMidAnswer,
    ProviderSwitched,
    RemoteChat,
    network_models,
)
from app.storage.sessions import SessionRecord

log = logging.getLogger(__name__)

PREFIX = "mor/"
SESSION_S = 600  # each session the API opens runs 10 minutes (closed earlier when idle)
REPLACE_MARGIN_S = 120  # a session with less left than this is replaced before a request
LIST_TTL_S = 15.0  # how long the network's model list is reused


class NotEnoughMor(SpendingLimitReached):
    """The wallet cannot cover the stake of a new session."""


def _unavailable(message: str, code: str) -> ApiError:
    return ApiError(503, message, type_="server_error", code=code)


class NetworkApiModels:
    """The ``mor/…`` names of ``/v1/models`` and their engines, sharing one spending ledger.

    ``consumer()`` returns the wallet's consumer service (raising a ``UserFacingError`` when the
    wallet is locked or the chain unreachable); ``ready()`` says whether listing may ask the chain
    now (it never connects just to list); ``settings()`` gives the current limit and idle time.
    """

    def __init__(
        self,
        consumer: Callable[[], Awaitable[ConsumerService]],
        settings: Callable[[], Any],
        ledger: SpendLedger,
        *,
        ready: Callable[[], bool] = lambda: True,
        session_s: int = SESSION_S,
    ) -> None:
        self._consumer = consumer
        self._settings = settings
        self._ready = ready
        self.ledger = ledger
        self.session_s = session_s
        self._engines: dict[str, AutoSessionEngine] = {}
        self._cache: tuple[float, list[NetworkModel]] | None = None

    # -- the router's source protocol --------------------------------------------------------

    def owns(self, name: str) -> bool:
        return name.lower().startswith(PREFIX) and len(name) > len(PREFIX)

    async def names(self) -> list[str]:
        if not self._ready():
            return []
        try:
            models = await self.models()
        except UserFacingError as exc:
            log.info("local API: network models not listed: %s", exc.message)
            return []
        return [PREFIX + m.name for m in models]

    def engine(self, name: str) -> AutoSessionEngine:
        key = name[len(PREFIX):].strip().lower()
        engine = self._engines.get(key)
        if engine is None:
            engine = self._engines[key] = AutoSessionEngine(self, name[len(PREFIX):].strip())
        return engine

    # -- helpers for the engines -------------------------------------------------------------

    async def consumer(self) -> ConsumerService:
        try:
            return await self._consumer()
        except UserFacingError as exc:
            raise _unavailable(
                f"Network models cannot be used right now: {exc.message}", "network_unavailable"
            ) from None

    async def models(self, *, fresh: bool = False) -> list[NetworkModel]:
        now = time.monotonic()
        if not fresh and self._cache is not None and now - self._cache[0] < LIST_TTL_S:
            return self._cache[1]
        models = await network_models(await self._consumer())
        self._cache = (now, models)
        return models

    async def check_budget(self, consumer: ConsumerService, bid_id: str, duration_s: int) -> None:
        """Refuse (``SpendingLimitReached``) a session whose stake would pass today's limit."""
        limit = int(getattr(self._settings(), "api_daily_limit_wei", 0))
        if limit <= 0:
            self.ledger.check(0, limit)
        quote = await consumer.quote(await consumer.chain.get_bid(bid_id), duration_s)
        self.ledger.check(quote.stake, limit)
        if quote.shortfall:
            raise NotEnoughMor(
                f"Your wallet has {mor(quote.balance)}; a session with this provider stakes "
                f"{mor(quote.stake)} (it comes back when the session closes). Add MOR to the "
                "wallet in Morpheus Desktop to use network models."
            )

    def record(self, rec: SessionRecord) -> None:
        total = self.ledger.add(rec.stake)
        log.info("local API opened session %s (stake %d wei; %d wei staked today)",
                 rec.session_id, rec.stake, total)

    def idle_s(self) -> float:
        return float(getattr(self._settings(), "api_idle_close_s", 300))

    async def close_all(self) -> None:
        """Close every session the API opened (the stake comes back); used when it stops."""
        for engine in list(self._engines.values()):
            await engine.close()


class AutoSessionEngine:
    """One network model as a ``ChatEngine``: opens, reuses, replaces and idles out its session."""

    def __init__(self, source: NetworkApiModels, model_name: str) -> None:
        self.source = source
        self.model_name = model_name
        self.remote: RemoteChat | None = None
        self.active = 0
        self.last_used = time.monotonic()
        self._lock = asyncio.Lock()
        self._idle: asyncio.Task[None] | None = None

    async def model_names(self) -> list[str]:
        return [PREFIX + self.model_name]

    @property
    def session(self) -> SessionRecord | None:
        return self.remote.record if self.remote is not None else None

    async def chat_stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        self.active += 1
        try:
            remote = await self._session()
            stream = remote.chat_stream(request)
            async with contextlib.aclosing(stream):  # type: ignore[type-var]
                async for event in stream:
                    if isinstance(event, ProviderSwitched):
                        continue  # before any text: the client never notices the switch
                    yield event
        except ApiError:
            raise
        except ProviderFailedMidAnswer as exc:
            raise ApiError(502, exc.message, type_="server_error", code="provider_failed") from None
        except CannotSwitch as exc:
            raise _unavailable(exc.message, "no_provider_available") from None
        except UserFacingError as exc:
            raise ApiError(502, exc.message, type_="server_error", code="provider_error") from None
        finally:
            self.active -= 1
            self.last_used = time.monotonic()
            self._arm_idle()

    async def _session(self) -> RemoteChat:
        """The open session, or a new one with the best-rated bid that accepts (within the
        spending limit); one that is about to end is closed and replaced."""
        async with self._lock:
            remote = self.remote
            if remote is not None:
                remote.refresh()
                if remote.is_open and remote.remaining_s() >= REPLACE_MARGIN_S:
                    return remote
                if remote.is_open:
                    await self._close(remote)
            consumer = await self.source.consumer()
            try:
                models = await self.source.models(fresh=True)
            except UserFacingError as exc:
                raise _unavailable(f"The network's offers could not be read: {exc.message}",
                                   "network_unavailable") from None
            model = next((m for m in models if m.name.lower() == self.model_name.lower()), None)
            if model is None or not model.bids:
                raise ApiError(
                    404, f"No provider on the Morpheus network offers the model "
                    f"'{self.model_name}' right now.", code="model_not_found", param="model",
                )
            remote = RemoteChat(
                consumer, model, mid_answer="close", on_opened=self.source.record,
                before_open=lambda bid, s: self.source.check_budget(consumer, bid, s),
            )
            tried: list[str] = []
            for rb in model.bids[:MAX_SWITCH_TRIES]:
                try:
                    await self.source.check_budget(consumer, rb.bid.id, self.source.session_s)
                    await remote.open(rb.bid.id, self.source.session_s)
                except SpendingLimitReached as exc:
                    raise ApiError(429, exc.message, type_="insufficient_quota",
                                   code="insufficient_quota") from None
                except FAILOVER_ERRORS as exc:  # unreachable provider: the next-best one
                    log.warning("local API: provider %s did not open a session: %s",
                                rb.bid.provider, exc.detail or exc.message)
                    tried.append(exc.message)
                    continue
                except UserFacingError as exc:
                    raise _unavailable(f"A session could not be opened: {exc.message}",
                                       "session_open_failed") from None
                self.remote = remote
                return remote
            raise _unavailable(
                f"No provider of '{self.model_name}' could be reached ({'; '.join(tried)}).",
                "no_provider_available",
            )

    def _arm_idle(self) -> None:
        if self._idle is not None and not self._idle.done():
            return  # the running timer re-reads last_used
        with contextlib.suppress(RuntimeError):
            self._idle = asyncio.ensure_future(self._close_when_idle())

    async def _close_when_idle(self) -> None:
        while self.remote is not None and self.remote.is_open:
            wait = self.last_used + self.source.idle_s() - time.monotonic()
            if wait > 0 or self.active:
                await asyncio.sleep(max(wait, 0.2))
                continue
            async with self._lock:
                if self.active == 0 and self.remote is not None and self.remote.is_open:
                    log.info("local API: closing the idle session of %s", self.model_name)
                    await self._close(self.remote)
            return

    async def _close(self, remote: RemoteChat) -> None:
        try:
            await remote.close()
        except UserFacingError as exc:  # the close job keeps retrying under the supervisor
            log.warning("local API: session close deferred: %s", exc.message)
        if self.remote is remote:
            self.remote = None

    async def close(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._idle
        async with self._lock:
            if self.remote is not None and self.remote.is_open:
                await self._close(self.remote)
