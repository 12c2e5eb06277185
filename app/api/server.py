"""The local OpenAI-compatible HTTP API (``/v1/models``, ``/v1/chat/completions``).

Why: every tool that speaks OpenAI's API (editors, agents, scripts) can then use the user's local
model — and later their open Morpheus sessions — by pointing at ``http://127.0.0.1:<port>/v1``
with the key from Settings. Loopback only unless the caller explicitly asks for another address.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from app.api.embeddings import embeddings_response, parse_embeddings_request
from app.api.openai_format import (
    ApiError,
    chunk_object,
    completion_object,
    model_object,
    new_completion_id,
    parse_chat_request,
    usage_chunk,
)
from app.api.router import EngineRouter, UnknownModel
from app.inference.types import (
    CompletionDone,
    ContextOverflow,
    EngineCrashed,
    InferenceError,
    ModelLoadError,
    StreamEvent,
    TokenDelta,
)
from app.logsetup import register_secret
from app.p2p.errors import ProtocolError
from app.p2p.framing import loads_bounded

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _json_error(err: ApiError) -> web.Response:
    headers = {"WWW-Authenticate": "Bearer"} if err.status == 401 else None
    return web.json_response(err.body(), status=err.status, headers=headers)


def _engine_error(exc: InferenceError) -> ApiError:
    if isinstance(exc, ContextOverflow):
        return ApiError(400, exc.message, code="context_length_exceeded", param="messages")
    if isinstance(exc, EngineCrashed | ModelLoadError):
        return ApiError(503, exc.message, type_="server_error", code="engine_unavailable")
    return ApiError(500, exc.message, type_="server_error", code="engine_error")


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


class ApiServer:
    """``ApiServer(router, api_key)``; ``port = await start()``; ``await stop()``."""

    def __init__(
        self,
        router: EngineRouter,
        api_key: str,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        if len(api_key) < 16:
            raise ValueError("the API key is too short to be a secret")
        self.router = router
        self.host = host
        self.port = port
        self.max_body_bytes = max_body_bytes
        self._api_key = api_key.encode()
        register_secret(api_key)
        self._runner: web.AppRunner | None = None
        self.active_requests = 0
        self.requests_served = 0  # answered chat completions (shown in Settings)
        self.on_served: Callable[[], None] | None = None

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/v1"

    # lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> int:
        if self._runner is not None:
            return self.port
        if not is_loopback(self.host):
            log.warning(
                "The local API is listening on %s, not only on this computer: anyone who can "
                "reach this address and has the key can use your models.",
                self.host,
            )
        app = web.Application(
            middlewares=[self._errors_middleware, self._auth_middleware],
            client_max_size=self.max_body_bytes,
        )
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/v1/models/{name:.+}", self._model)
        app.router.add_post("/v1/chat/completions", self._chat_completions)
        app.router.add_post("/v1/embeddings", self._embeddings)
        runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            from app.errors import UserFacingError

            raise UserFacingError(
                f"The local API could not listen on {self.host}:{self.port}. "
                "Another program may be using that port; choose another one.",
                detail=str(exc),
            ) from exc
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        self._runner = runner
        log.info("Local API listening on %s", self.base_url)
        return self.port

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> ApiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # middlewares -------------------------------------------------------------------------------
    @web.middleware
    async def _errors_middleware(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as err:
            return _json_error(err)
        except web.HTTPRequestEntityTooLarge:
            return _json_error(self._too_large())
        except web.HTTPNotFound:
            return _json_error(ApiError(404, f"Unknown path {request.path}.", code="not_found"))
        except web.HTTPMethodNotAllowed:
            return _json_error(ApiError(405, f"{request.method} is not allowed here."))
        except (asyncio.CancelledError, ConnectionResetError, web.HTTPException):
            raise
        except Exception:
            log.exception("local API: unexpected error on %s %s", request.method, request.path)
            return _json_error(
                ApiError(
                    500,
                    "Something went wrong inside Morpheus Desktop; details are in its log.",
                    type_="server_error",
                )
            )

    @web.middleware
    async def _auth_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            raise ApiError(
                401,
                "Missing API key. Send 'Authorization: Bearer <key>'; "
                "the key is shown in Morpheus Desktop's Settings.",
                code="invalid_api_key",
            )
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), self._api_key
        ):
            raise ApiError(
                401,
                "Incorrect API key. Copy the key from Morpheus Desktop's Settings.",
                code="invalid_api_key",
            )
        return await handler(request)

    def _too_large(self) -> ApiError:
        return ApiError(
            413,
            f"The request is too large (the limit is {self.max_body_bytes // 1024} KiB). "
            "Send a shorter conversation.",
            code="request_too_large",
        )

    # handlers ----------------------------------------------------------------------------------
    async def _models(self, request: web.Request) -> web.Response:
        now = int(time.time())
        data = [model_object(name, now) for name in await self.router.all_names()]
        return web.json_response({"object": "list", "data": data})

    async def _model(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.router and name not in await self.router.all_names():
            raise ApiError(404, f"The model '{name}' does not exist.", code="model_not_found")
        return web.json_response(model_object(name))

    async def _read_json(self, request: web.Request) -> Any:
        if request.content_length is not None and request.content_length > self.max_body_bytes:
            raise self._too_large()
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise self._too_large() from None
        try:
            return loads_bounded(raw)  # a deeply nested body is refused, never recursed into
        except ProtocolError as exc:
            raise ApiError(400, f"The request body is not valid JSON: {exc.message}.") from None

    async def _chat_completions(self, request: web.Request) -> web.StreamResponse:
        body = await self._read_json(request)
        chat, stream, include_usage = parse_chat_request(body)
        engine = self._engine(chat.model)
        if chat.params.grammar and self.router.owned(chat.model):
            raise ApiError(
                400, "JSON mode (response_format) works on local models only: a network "
                "provider's answer cannot be held to a grammar here.", param="response_format",
                code="unsupported_parameter",
            )
        self.active_requests += 1
        try:
            events = engine.chat_stream(chat)
            async with contextlib.aclosing(events):  # type: ignore[type-var]
                if stream:
                    return await self._stream(request, chat.model, events, include_usage)
                return await self._complete(chat.model, events)
        finally:
            self.active_requests -= 1
            self.requests_served += 1
            if self.on_served is not None:
                try:
                    self.on_served()
                except Exception:
                    log.exception("local API: on_served listener failed")

    def _engine(self, model: str) -> Any:
        try:
            return self.router.resolve(model)
        except UnknownModel as exc:
            raise ApiError(404, exc.message, code="model_not_found", param="model") from None

    async def _embeddings(self, request: web.Request) -> web.Response:
        model, texts, encoding = parse_embeddings_request(await self._read_json(request))
        engine = self._engine(model)
        embed = getattr(engine, "embed", None)
        if embed is None:
            raise ApiError(
                400, f"The model '{model}' does not provide embeddings here; use a local model.",
                param="model", code="unsupported_model",
            )
        self.active_requests += 1
        try:
            result = await embed(texts)
        except InferenceError as exc:
            raise _engine_error(exc) from exc
        finally:
            self.active_requests -= 1
        return web.json_response(
            embeddings_response(model, result.vectors, result.prompt_tokens, encoding)
        )

    async def _next(self, events: AsyncIterator[StreamEvent]) -> StreamEvent | None:
        try:
            return await events.__anext__()
        except StopAsyncIteration:
            return None
        except InferenceError as exc:
            raise _engine_error(exc) from exc

    async def _complete(self, model: str, events: AsyncIterator[StreamEvent]) -> web.Response:
        parts: list[str] = []
        while (event := await self._next(events)) is not None:
            if isinstance(event, TokenDelta):
                parts.append(event.text)
            elif isinstance(event, CompletionDone):
                body = completion_object(
                    new_completion_id(), int(time.time()), model, "".join(parts), event.metrics
                )
                return web.json_response(body)
        raise ApiError(500, "The model stopped without finishing.", type_="server_error")

    async def _stream(
        self,
        request: web.Request,
        model: str,
        events: AsyncIterator[StreamEvent],
        include_usage: bool,
    ) -> web.StreamResponse:
        # Wait for the first event before sending headers, so that errors the engine raises up
        # front (prompt too long, engine down) still get a proper status code.
        first = await self._next(events)
        cid, created = new_completion_id(), int(time.time())
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        try:
            await response.write(
                _sse(chunk_object(cid, created, model, {"role": "assistant", "content": ""}))
            )
            event = first
            while event is not None:
                if isinstance(event, TokenDelta):
                    if event.text:
                        await response.write(
                            _sse(chunk_object(cid, created, model, {"content": event.text}))
                        )
                elif isinstance(event, CompletionDone):
                    fin = event.metrics.openai_finish_reason()
                    await response.write(_sse(chunk_object(cid, created, model, {}, fin)))
                    if include_usage:
                        await response.write(_sse(usage_chunk(cid, created, model, event.metrics)))
                    break
                try:
                    event = await self._next(events)
                except ApiError as err:
                    # Headers are gone: report in-band, as OpenAI does, and end the stream.
                    await response.write(_sse(err.body()))
                    return response
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except ConnectionResetError:
            log.info("API client went away; generation cancelled")
        return response
