"""JSON-RPC over HTTP with an ordered list of endpoints, retries and failover.

Public RPC endpoints fail in every way there is (refused, slow, HTML error pages, rate limits),
and users of the reference node lose sessions to that. So: an answer that is not a well-formed
JSON-RPC response counts as a failure of that endpoint, the next URL is tried, and only when all
of them have failed (after a short backoff round) does the caller get ``RpcUnavailable``.
A JSON-RPC *error* object is a valid answer from the node (e.g. a revert) and is returned as is.

``request_count`` counts HTTP POSTs, which is what the market-load benchmark reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from app.chain.errors import RpcUnavailable, WrongChain
from app.jsonsafe import ProtocolError, loads_bounded
from app.logsetup import safe_url

log = logging.getLogger(__name__)


class _EndpointFailed(Exception):
    """One endpoint did not give a usable answer; try the next."""


@dataclass
class EthRpcError(Exception):
    """The node answered with a JSON-RPC error object."""

    code: int
    message: str
    data: Any = None

    def __str__(self) -> str:
        return f"RPC error {self.code}: {self.message}"

    @property
    def revert_data(self) -> str | None:
        """Hex revert payload, when the node attached one (execution reverted)."""
        data = self.data
        if isinstance(data, dict):
            data = data.get("data") or data.get("result")
        if isinstance(data, str) and data.startswith("0x"):
            return data
        return None


class RpcPool:
    """Endpoints in fallback order; the first that works stays preferred until it fails."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        expected_chain_id: int | None = None,
        timeout: float = 10.0,
        rounds: int = 2,
        backoff: float = 0.25,
    ) -> None:
        if not urls:
            raise ValueError("at least one RPC URL is needed")
        self.urls = list(urls)
        self.expected_chain_id = expected_chain_id
        self.timeout = timeout
        self.rounds = rounds
        self.backoff = backoff
        self.request_count = 0
        self._active = 0
        self._verified: set[str] = set()
        self._ids = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._in_flight = 0
        self._drained = asyncio.Event()
        self._drained.set()

    @property
    def active_url(self) -> str:
        return self.urls[self._active]

    async def close(self) -> None:
        """Refuse new requests, let the ones under way finish (bounded by the timeout), then
        close the HTTP session: no connection is left for the garbage collector to find."""
        self._closed = True
        if self._in_flight:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.timeout):  # no inner task left unstarted
                    await self._drained.wait()
        if self._session is not None:
            await self._session.close()
            self._session = None
            # The transports close in a callback of the next loop pass: give it that pass, so a
            # caller that stops the loop right after this leaves no socket open.
            await asyncio.sleep(0)

    def _http(self) -> aiohttp.ClientSession:
        if self._closed:  # a straggler after close() must not open a session nobody closes
            raise _EndpointFailed("the connection to the network was closed")
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"Content-Type": "application/json"},
            )
        return self._session

    async def _post(self, url: str, payload: Any) -> Any:
        self.request_count += 1
        body = json.dumps(payload).encode()
        self._in_flight += 1
        self._drained.clear()
        try:
            async with self._http().post(url, data=body) as resp:
                raw = await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise _EndpointFailed(f"{url}: {type(exc).__name__}: {exc}") from exc
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._drained.set()
        if status == 429 or (status >= 500 and not raw.startswith((b"{", b"["))):
            raise _EndpointFailed(f"{url}: HTTP {status}")
        try:  # depth-checked before decoding: a hostile endpoint must not overflow the C stack
            return loads_bounded(raw)
        except ProtocolError as exc:
            raise _EndpointFailed(f"{url}: HTTP {status}, not JSON: {raw[:80]!r}") from exc

    @staticmethod
    def _check_single(resp: Any, req_id: int, url: str) -> dict[str, Any]:
        if (
            not isinstance(resp, dict)
            or resp.get("id") != req_id
            or ("result" not in resp and not isinstance(resp.get("error"), dict))
        ):
            raise _EndpointFailed(f"{url}: malformed JSON-RPC answer: {str(resp)[:120]}")
        return resp

    async def _verify_chain(self, url: str) -> None:
        if self.expected_chain_id is None or url in self._verified:
            return
        req_id = next(self._ids)
        resp = self._check_single(
            await self._post(url, {"jsonrpc": "2.0", "id": req_id, "method": "eth_chainId",
                                   "params": []}),
            req_id, url,
        )
        try:
            actual = int(resp["result"], 16)
        except (KeyError, TypeError, ValueError) as exc:
            raise _EndpointFailed(f"{url}: bad eth_chainId answer {resp!r}") from exc
        if actual != self.expected_chain_id:
            raise WrongChain(self.expected_chain_id, actual, url)
        self._verified.add(url)

    async def _attempt(self, send: Any) -> Any:
        if self._closed:
            raise RpcUnavailable("the connection to the network was closed")
        errors: list[str] = []
        for round_no in range(self.rounds):
            if round_no:
                await asyncio.sleep(self.backoff * (2 ** (round_no - 1)))
            for step in range(len(self.urls)):
                idx = (self._active + step) % len(self.urls)
                url = self.urls[idx]
                try:
                    await self._verify_chain(url)
                    result = await send(url)
                except _EndpointFailed as exc:
                    log.warning("RPC endpoint failed, trying next: %s", exc)
                    errors.append(str(exc))
                    continue
                if idx != self._active:
                    log.info("RPC failover: now using endpoint #%d (%s)", idx + 1, safe_url(url))
                    self._active = idx
                return result
        raise RpcUnavailable(safe_url("; ".join(errors[-len(self.urls) :])))

    async def request_raw(self, method: str, params: Any = None) -> dict[str, Any]:
        """The whole JSON-RPC response object (``result`` or ``error``)."""

        async def send(url: str) -> dict[str, Any]:
            req_id = next(self._ids)
            payload = {"jsonrpc": "2.0", "id": req_id, "method": method, "params": params or []}
            return self._check_single(await self._post(url, payload), req_id, url)

        result: dict[str, Any] = await self._attempt(send)
        return result

    async def request(self, method: str, params: Any = None) -> Any:
        """The ``result``; a JSON-RPC error object is raised as ``EthRpcError``."""
        resp = await self.request_raw(method, params)
        if "error" in resp and resp["error"] is not None:
            err = resp["error"]
            raise EthRpcError(int(err.get("code", 0)), str(err.get("message", "")), err.get("data"))
        return resp["result"]

    async def batch_raw(self, calls: Sequence[tuple[str, Any]]) -> list[dict[str, Any]]:
        """Several calls in one HTTP request; answers in call order."""
        if not calls:
            return []

        async def send(url: str) -> list[dict[str, Any]]:
            ids = [next(self._ids) for _ in calls]
            payload = [
                {"jsonrpc": "2.0", "id": i, "method": m, "params": p or []}
                for i, (m, p) in zip(ids, calls, strict=True)
            ]
            resp = await self._post(url, payload)
            if not isinstance(resp, list):
                raise _EndpointFailed(f"{url}: batch answered with {str(resp)[:120]}")
            by_id = {r.get("id"): r for r in resp if isinstance(r, dict)}
            return [self._check_single(by_id.get(i), i, url) for i in ids]

        result: list[dict[str, Any]] = await self._attempt(send)
        return result

    async def batch(self, calls: Sequence[tuple[str, Any]]) -> list[Any]:
        out: list[Any] = []
        for resp in await self.batch_raw(calls):
            if resp.get("error") is not None:
                err = resp["error"]
                out.append(EthRpcError(int(err.get("code", 0)), str(err.get("message", "")),
                                    err.get("data")))
            else:
                out.append(resp["result"])
        return out
