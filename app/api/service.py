"""The local API inside the desktop app: which models it offers and when it runs.

Why separate from the server: the server knows HTTP; this knows the app — the API key file, the
port from Settings, and the shared local engine, listed at once and loaded on the first request.
Other parts (remote sessions) add models to ``router`` while it runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from app.api.keys import load_or_create_api_key
from app.api.router import EngineRouter, LazyEngine
from app.api.server import ApiServer
from app.errors import UserFacingError

log = logging.getLogger(__name__)


class LocalApiService:
    """``svc = LocalApiService(ctx)``; ``url = await svc.start()``; ``await svc.stop()``."""

    def __init__(
        self, ctx: Any, *, host: str = "127.0.0.1", port: int | None = None,
        network: bool = True,
    ) -> None:
        """``network``: also offer the Morpheus network's models as ``mor/<name>``."""
        self.ctx = ctx
        self.with_network = network
        self.network: Any = None  # app.api.network_models.NetworkApiModels once started
        self.host = host
        self.port = port
        self.router = EngineRouter()
        self.server: ApiServer | None = None
        self.error = ""  # why the last start failed (shown under the Settings switch)
        self.served_before = 0  # requests answered by servers stopped earlier this run
        self._listeners: list[Callable[[], None]] = []
        self._apply_lock = asyncio.Lock()

    @property
    def running(self) -> bool:
        return self.server is not None

    @property
    def base_url(self) -> str:
        return self.server.base_url if self.server is not None else ""

    @property
    def requests_served(self) -> int:
        live = self.server.requests_served if self.server is not None else 0
        return self.served_before + live

    def on_change(self, listener: Callable[[], None]) -> None:
        """Called after a start, a stop, a failed start and each request served."""
        self._listeners.append(listener)

    def _emit(self) -> None:
        for listener in list(self._listeners):
            try:
                listener()
            except Exception:
                log.exception("local API listener failed")

    async def apply(self, enabled: bool, port: int | None = None) -> None:
        """Run or stop the server as Settings say; a port change restarts it. A failure to
        listen is kept in ``error`` (and logged) instead of raised: it comes from a switch."""
        async with self._apply_lock:
            if port is not None and port != self.port:
                self.port = port
                if self.server is not None and self.server.port != port:
                    await self.stop()
            if not enabled:
                await self.stop()
                return
            try:
                await self.start()
                self.error = ""
            except UserFacingError as exc:
                self.error = exc.message
                log.warning("local API not started: %s", exc.detail or exc.message)
            self._emit()

    def _register_local_model(self) -> None:
        from app.inference.library import ModelLibrary

        engine = getattr(self.ctx, "engine", None)
        try:
            chosen = str(getattr(self.ctx.settings, "local_model", "") or "")
            name = ModelLibrary(self.ctx.paths.models).preferred(chosen).name
        except UserFacingError:
            log.info("local API: no local model installed yet")
            return
        if engine is None:
            from app.services.app_services import services_of

            engine = LazyEngine(services_of(self.ctx).local_engine, name)
        self.router.register(name, engine)

    def _add_network_models(self) -> None:
        from app.api.network_models import NetworkApiModels
        from app.services.api_spend import api_ledger
        from app.services.app_services import services_of

        services = services_of(self.ctx)
        self.network = NetworkApiModels(
            services.consumer, lambda: self.ctx.settings,
            api_ledger(self.ctx.paths),
            ready=lambda: services.chain is not None and services.signer() is not None,
        )
        self.router.add_source(self.network)

    async def start(self) -> str:
        """Start serving (no-op when running); return the base URL (``http://.../v1``)."""
        if self.server is not None:
            return self.server.base_url
        if not len(self.router):
            self._register_local_model()
        if self.with_network and self.network is None:
            self._add_network_models()
        port = self.port
        if port is None:
            port = int(getattr(self.ctx.settings, "api_port", 0) or 0)
        server = ApiServer(self.router, load_or_create_api_key(self.ctx.paths), self.host, port)
        server.on_served = self._emit
        await server.start()
        self.server = server
        self.error = ""
        self._emit()
        return server.base_url

    async def stop(self) -> None:
        server, self.server = self.server, None
        if server is not None:
            self.served_before += server.requests_served
            await server.stop()
            self._emit()
        if self.network is not None:
            await self.network.close_all()  # sessions it opened close; their stake comes back


WINDOW_API_KEY = "local_api"


def window_api(ctx: Any) -> LocalApiService:
    """The window's one local API (created on first use; ``app.ui.api_switch`` runs it as
    Settings say). It stops before the services it uses, and its changes reach their listeners
    as ``"api"``."""
    api = ctx.extras.get(WINDOW_API_KEY)
    if isinstance(api, LocalApiService):
        return api
    from app.services.app_services import services_of

    api = LocalApiService(ctx)
    services = services_of(ctx)
    api.on_change(lambda: services.emit("api"))
    services.on_stop(api.stop)
    ctx.extras[WINDOW_API_KEY] = api
    return api
