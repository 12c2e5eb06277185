"""A ``ChatEngine`` backed by any OpenAI-compatible server (llama-server, vLLM, Ollama, our own
local API), for operators whose model runs on another machine or several of them."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from app.inference.types import (
    ChatRequest,
    CompletionDone,
    CompletionMetrics,
    ContextOverflow,
    InferenceError,
    StreamEvent,
    TokenDelta,
)
from app.jsonsafe import ProtocolError, loads_bounded
from app.logsetup import register_secret


class RemoteEngineError(InferenceError):
    """The OpenAI-compatible server could not be reached or refused the request."""


class OpenAICompatEngine:
    def __init__(
        self,
        base_url: str,
        api_key: str = "",
        model: str = "",
        *,
        timeout_s: float = 300.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        if not self.base_url.endswith("/v1"):
            self.base_url += "/v1"
        self.api_key = api_key
        if api_key:
            register_secret(api_key)
        self.model = model
        self.timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=10)
        self._session: aiohttp.ClientSession | None = None

    def _headers(self) -> dict[str, str]:
        h = {"Content-Type": "application/json"}
        if self.api_key:
            h["Authorization"] = f"Bearer {self.api_key}"
        return h

    def _sess(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> OpenAICompatEngine:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def device_summary(self) -> str:
        """Where the model runs, for the Share page."""
        return f"the model server at {self.base_url}" + (f" ({self.model})" if self.model else "")

    async def health_check(self) -> list[str]:
        """The models the server lists; a plain error when it is down, refuses the key, or is
        not an OpenAI-compatible server (no JSON model list at ``/v1/models``)."""
        def not_compatible(why: str) -> RemoteEngineError:
            return RemoteEngineError(
                f"The server at {self.base_url} is not an OpenAI-compatible model server: {why}.",
            )

        try:
            async with self._sess().get(f"{self.base_url}/models", headers=self._headers()) as r:
                if r.status in (401, 403):
                    raise RemoteEngineError("The model server rejected the API key.")
                if r.status >= 400:
                    raise not_compatible(f"GET /v1/models answered HTTP {r.status}")
                try:
                    data = await r.json(content_type=None)
                except ValueError:
                    raise not_compatible("GET /v1/models did not answer with JSON") from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._unreachable(exc) from exc
        models = data.get("data") if isinstance(data, dict) else None
        ids = [m["id"] for m in models or [] if isinstance(m, dict) and m.get("id")]
        if not ids:
            raise not_compatible("it lists no models")
        return ids

    async def model_names(self) -> list[str]:
        try:
            async with self._sess().get(f"{self.base_url}/models", headers=self._headers()) as r:
                await self._raise_for(r)
                data = await r.json()
        except aiohttp.ClientError as exc:
            raise self._unreachable(exc) from exc
        return [m["id"] for m in data.get("data", [])]

    def _unreachable(self, exc: BaseException) -> RemoteEngineError:
        return RemoteEngineError(
            f"Cannot reach the model server at {self.base_url}. Check that it is running and "
            "the address is right.",
            detail=repr(exc),
        )

    async def _raise_for(self, r: aiohttp.ClientResponse) -> None:
        if r.status < 400:
            return
        text = await r.text()
        try:
            msg = loads_bounded(text)["error"]["message"]
        except (ProtocolError, KeyError, TypeError):
            msg = text[:300]
        if r.status in (401, 403):
            raise RemoteEngineError(
                "The model server rejected the API key.", detail=f"HTTP {r.status}: {msg}"
            )
        if r.status == 400 and "context" in msg.lower():
            raise ContextOverflow("The conversation is too long for this model.", detail=msg)
        raise RemoteEngineError(
            f"The model server answered with an error (HTTP {r.status}).", detail=msg
        )

    async def chat_stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        p = request.params
        body: dict[str, Any] = {
            "model": request.model or self.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": p.max_tokens,
            "temperature": p.temperature,
            "top_p": p.top_p,
        }
        if p.stop:
            body["stop"] = list(p.stop)
        if p.seed is not None:
            body["seed"] = p.seed
        # OpenAI's penalty fields only: top_k and repeat_penalty are llama.cpp's, and a strict
        # OpenAI-compatible server refuses fields it does not know
        if p.frequency_penalty:
            body["frequency_penalty"] = p.frequency_penalty
        if p.presence_penalty:
            body["presence_penalty"] = p.presence_penalty
        t0 = time.perf_counter()
        t_first = 0.0
        n_chunks = 0
        finish = "stop"
        usage: dict[str, Any] = {}
        try:
            async with self._sess().post(
                f"{self.base_url}/chat/completions", json=body, headers=self._headers()
            ) as r:
                await self._raise_for(r)
                async for raw in r.content:
                    line = raw.strip()
                    if not line.startswith(b"data:"):
                        continue
                    data = line[5:].strip()
                    if data == b"[DONE]":
                        break
                    try:
                        obj = loads_bounded(data)
                    except ProtocolError as exc:
                        raise RemoteEngineError(
                            "The model server sent a reply this program cannot read.",
                            detail=exc.message,
                        ) from None
                    if not isinstance(obj, dict):
                        continue
                    if "error" in obj:
                        raise RemoteEngineError(
                            "The model server failed while answering.",
                            detail=str(obj["error"].get("message", obj["error"])),
                        )
                    if obj.get("usage"):
                        usage = obj["usage"]
                    for choice in obj.get("choices", []):
                        text = (choice.get("delta") or {}).get("content")
                        if text:
                            if not t_first:
                                t_first = time.perf_counter()
                            n_chunks += 1
                            yield TokenDelta(text)
                        if choice.get("finish_reason"):
                            finish = "length" if choice["finish_reason"] == "length" else "stop"
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._unreachable(exc) from exc
        t_end = time.perf_counter()
        n = int(usage.get("completion_tokens", n_chunks))
        gen_s = t_end - t_first if t_first else 0.0
        yield CompletionDone(
            CompletionMetrics(
                prompt_tokens=int(usage.get("prompt_tokens", 0)),
                completion_tokens=n,
                ttft_ms=((t_first or t_end) - t0) * 1000.0,
                tokens_per_s=(n - 1) / gen_s if n > 1 and gen_s > 0 else 0.0,
                finish_reason=finish,  # type: ignore[arg-type]
            )
        )


async def connect_backend(url: str, api_key: str = "", model: str = "") -> OpenAICompatEngine:
    """An engine for an existing OpenAI-compatible server (llama-server, vLLM, Ollama), checked
    before anything is offered to the network. ``model`` picks one of the server's models; by
    default the first it lists."""
    from urllib.parse import urlparse

    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise RemoteEngineError(
            f"{url!r} is not a server address. Use one like http://127.0.0.1:8080/v1."
        )
    engine = OpenAICompatEngine(url, api_key)
    try:
        ids = await engine.health_check()
    except BaseException:
        await engine.close()
        raise
    if model and model in ids:
        engine.model = model
    elif model and len(ids) > 1:
        await engine.close()
        raise RemoteEngineError(
            f"The model server at {engine.base_url} has no model named {model!r}.",
            detail="it serves: " + ", ".join(ids),
        )
    else:
        engine.model = ids[0]
    return engine
