"""The GUI's long-lived services, assembled once: chain connection, background jobs, the shared
local engine, and the consumer/provider services of the unlocked wallet.

The job supervisor starts with the chain connection at launch, for the active network and the
wallet's account, locked or not (jobs that need a signature wait for the unlock); switching the
network tears everything down and builds it again for the new one at once.

No Qt here: pages reach this object through ``AppContext.extras["services"]`` (see
``services_of``) and call its coroutines from the qasync loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from app.errors import UserFacingError
from app.inference.types import ChatEngine
from app.services.block_watch import WatchPace
from app.services.context import AppContext

if TYPE_CHECKING:  # web3 and friends cost ~50 MB: loaded on first use, not at window creation
    from app.chain.client import ChainClient
    from app.services.consumer_service import ConsumerService
    from app.services.provider_service import ProviderService
    from app.services.runtime import Runtime
    from app.services.supervisor import JobSupervisor, WaitingForUnlock
    from app.services.tasks import TaskRunner
    from app.wallet.lock import WalletSigner

log = logging.getLogger(__name__)

SERVICES_KEY = "services"
WATCH_INTERVAL_S = 2.0
TIME_JUMP_S = 30.0


class AppServices:
    def __init__(
        self, ctx: AppContext, *, runtime: Runtime | None = None, engine: ChatEngine | None = None
    ) -> None:
        """``engine``: a running engine to use instead of starting the library's default (it is
        then owned by the caller and not stopped here)."""
        self.ctx = ctx
        self._runtime = runtime
        self._owns_engine = engine is None
        self.chain: ChainClient | None = None
        self.chain_error: str = ""
        self.block: int = 0
        self.chain_time: int = 0
        self._engine: Any = engine
        self._engine_lock = asyncio.Lock()
        self._connect_lock = asyncio.Lock()
        self._consumer: ConsumerService | None = None
        self._provider: ProviderService | None = None
        self._watch: asyncio.Task[None] | None = None
        self.watch_pace = WatchPace(WATCH_INTERVAL_S)  # slower while the window is hidden
        self._offset: float | None = None
        self._listeners: list[Callable[[str], None]] = []
        self.supervisor: JobSupervisor | None = None
        self.supervisor_error = ""  # why background payments do not run here (shown to the user)
        self._wallet_hooked = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._supervisor_lock = asyncio.Lock()  # two pages connecting at once start one
        self._stop_hooks: list[Callable[[], Awaitable[None]]] = []

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            from app.services.runtime import Runtime

            self._runtime = Runtime(self.ctx.paths, self.ctx.settings)
        return self._runtime

    # -- observers: "chain", "block", "wallet", "jobs", "provider" ----------------------------

    def on_change(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)

    def _emit(self, what: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(what)
            except Exception:
                log.exception("services listener failed")

    # -- chain -------------------------------------------------------------------------------

    async def connect(self) -> ChainClient | None:
        """Connect to the configured network; a failure is kept in ``chain_error``."""
        async with self._connect_lock:  # pages connect at the same moment: one connection
            return await self._connect()

    async def _connect(self) -> ChainClient | None:
        if self.chain is not None:
            return self.chain
        try:
            self.chain = await self.runtime.chain()
            self.chain_error = ""
            self._attach_wallet(self.chain)
        except UserFacingError as exc:
            self.chain_error = exc.message
            log.warning("chain connection failed: %s", exc.detail or exc.message)
        self._emit("chain")
        if self.chain is not None and self._watch is None:
            self._watch = asyncio.ensure_future(self._watch_chain())
        if self.chain is not None:
            await self.start_supervisor()
        return self.chain

    async def start_supervisor(self) -> JobSupervisor | None:
        """Run the money jobs of this network and wallet from now on, whatever page is open."""
        from app.services.supervisor import JobSupervisor

        async with self._supervisor_lock:
            return await self._start_supervisor(JobSupervisor)

    async def _start_supervisor(self, make: type[JobSupervisor]) -> JobSupervisor | None:
        wallet = self.ctx.wallet
        if self.supervisor is not None or wallet is None or not wallet.address:
            return self.supervisor
        sup = make(self.runtime, wallet.standing_signer())
        try:
            runner = await sup.start()
        except UserFacingError as exc:
            self.supervisor_error = exc.message
            log.warning("background payments not started: %s", exc.detail or exc.message)
            self._emit("jobs")
            return None
        self.supervisor = sup
        self.supervisor_error = sup.notice
        runner.on_change(lambda: self._emit("jobs"))
        if not self._wallet_hooked:
            self._loop = asyncio.get_running_loop()
            wallet.add_listener(self._on_wallet_event)
            self._wallet_hooked = True
        self._emit("jobs")
        return sup

    def _on_wallet_event(self, event: str) -> None:
        # The automatic unlock runs in a worker thread and the wallet tells its listeners from
        # there: the job runner and the pages are the loop's, so the event is handed to it.
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wallet_event_on_loop, event)
        else:
            self._wallet_event_on_loop(event)

    def _wallet_event_on_loop(self, event: str) -> None:
        if event == "unlocked" and self.supervisor is not None:
            self.supervisor.wallet_unlocked()
        self._emit("jobs")

    def waiting_for_unlock(self) -> WaitingForUnlock | None:
        return self.supervisor.waiting_for_unlock() if self.supervisor is not None else None

    def open_sessions(self) -> list[Any]:
        return self.supervisor.open_sessions() if self.supervisor is not None else []

    async def switch_network(self) -> ChainClient | None:
        """Tear every service down and build them again for the network now in the settings."""
        async with self._connect_lock:  # a connect under way finishes first, then goes too
            await self._teardown()
            self._runtime = None
            self.block = 0
            self.chain_time = 0
            self._offset = None
            self.chain_error = ""
        return await self.connect()

    def _attach_wallet(self, chain: ChainClient) -> None:
        """The wallet sends through the same client (one nonce manager per account)."""
        from app.services.wallet_chain import ClientWalletChain
        from app.services.wallet_service import WalletService

        if self.ctx.wallet is None:
            self.ctx.wallet = WalletService(self.ctx.paths)
        wallet = self.ctx.wallet
        wallet.chain = ClientWalletChain(chain)
        self._emit("wallet")
        if not wallet.is_unlocked and wallet.address is not None:
            # "Unlock automatically on this computer": do it at start, whichever page is open
            # (the key derivation runs in a worker thread, off the GUI thread).
            task = asyncio.ensure_future(asyncio.to_thread(wallet.try_auto_unlock))
            task.add_done_callback(self._auto_unlocked)

    def _auto_unlocked(self, task: asyncio.Future[bool]) -> None:
        if task.cancelled():
            return
        if task.exception() is not None:
            log.warning("automatic unlock failed: %s", task.exception())
            return
        if task.result():
            self._emit("wallet")

    async def _watch_chain(self) -> None:
        """Block height for the status bar; and when chain time jumps (devnet time travel, a
        machine waking from sleep), every waiting job is re-checked at once."""
        assert self.chain is not None
        while True:
            try:
                block = await self.chain.block_number()
                if self.chain_error:  # the node answers again: pages drop their "not connected"
                    self.chain_error = ""
                    self._emit("chain")
                if block != self.block:
                    self.block = block
                    self.chain_time = await self.chain.latest_timestamp()
                    offset = self.chain_time - time.time()
                    if self._offset is not None and abs(offset - self._offset) > TIME_JUMP_S:
                        for runner in self.runners():
                            runner.poke_all()
                    self._offset = offset
                    self._emit("block")
            except UserFacingError as exc:
                self.chain_error = exc.message
                self._emit("chain")
            await self.watch_pace.wait()

    # -- wallet-bound services ---------------------------------------------------------------

    def signer(self) -> WalletSigner | None:
        """The wallet's lock-aware signer (services never get the key itself)."""
        wallet = self.ctx.wallet
        if wallet is None or not wallet.is_unlocked:
            return None
        signer: WalletSigner = wallet.signer
        return signer

    async def consumer(self) -> ConsumerService:
        signer = self.signer()
        if signer is None:
            raise UserFacingError("Unlock your wallet first (Wallet page).")
        if await self.connect() is None:
            raise UserFacingError(f"Not connected to the network: {self.chain_error}")
        sup = self.supervisor
        if (sup is not None and sup.consumer is not None
                and sup.address.lower() == signer.address.lower()):
            self._consumer = sup.consumer  # the same services the background jobs run on
        if self._consumer is None or self._consumer.user.lower() != signer.address.lower():
            self._consumer = await self.runtime.consumer(signer)
            self._consumer.runner.on_change(lambda: self._emit("jobs"))
            self._consumer.runner.start()
            with contextlib.suppress(UserFacingError):
                await self._consumer.reconcile()
        return self._consumer

    def chosen_model_name(self) -> str:
        """The library model chosen for chat and sharing (Models page); "" for the default."""
        return str(getattr(self.ctx.settings, "local_model", "") or "")

    async def local_engine(self) -> ChatEngine:
        """The bundled (or chosen) model in its child process, shared by chat and provider."""
        async with self._engine_lock:
            if self._engine is None:
                from app.inference.engine import LocalEngine
                from app.inference.library import ModelLibrary

                model = ModelLibrary(self.ctx.paths.models).preferred(self.chosen_model_name())
                engine = LocalEngine(model.path, n_slots=4, name=model.name)
                await engine.start()
                self._engine = engine
                self.ctx.engine = engine
            running: ChatEngine = self._engine
            return running

    async def provider(self) -> ProviderService:
        signer = self.signer()
        if signer is None:
            raise UserFacingError("Unlock your wallet first (Wallet page).")
        if await self.connect() is None:
            raise UserFacingError(f"Not connected to the network: {self.chain_error}")
        if self._provider is None or self._provider.me.lower() != signer.address.lower():
            engine = await self.local_engine()
            names = await engine.model_names()
            s = self.ctx.settings
            host = "0.0.0.0" if getattr(s, "provider_public_host", "") else "127.0.0.1"
            port = int(getattr(s, "provider_port", 3333) or 0)
            public = (f"{s.provider_public_host}:{port}"
                      if getattr(s, "provider_public_host", "") else None)
            self._provider = await self.runtime.provider(
                signer, engine, model_name=names[0], host=host, port=port, public_endpoint=public,
            )
            self._provider.on_change(lambda _d: self._emit("provider"))
            self._provider.runner.on_change(lambda: self._emit("jobs"))
            self._provider.runner.start()
        return self._provider

    @property
    def started_consumer(self) -> ConsumerService | None:
        """The consumer service if the wallet has been used for it already (never starts one)."""
        return self._consumer

    @property
    def started_provider(self) -> ProviderService | None:
        return self._provider

    def runners(self) -> list[TaskRunner]:
        out: list[TaskRunner] = []
        if self.supervisor is not None and self.supervisor.runner is not None:
            out.append(self.supervisor.runner)
        for svc in (self._consumer, self._provider):
            if svc is not None and svc.runner not in out:
                out.append(svc.runner)
        return out

    def emit(self, what: str) -> None:
        """Tell listeners that ``what`` changed (for parts kept outside, like the local API)."""
        self._emit(what)

    def on_stop(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run ``hook`` first when the services stop (the local API: it uses them all)."""
        self._stop_hooks.append(hook)

    async def stop(self) -> None:
        for hook in self._stop_hooks:
            try:
                await hook()
            except Exception:
                log.exception("stop hook failed")
        async with self._connect_lock:
            await self._teardown(keep_engine=False)

    async def _teardown(self, *, keep_engine: bool = True) -> None:
        """Stop the network-bound services (the local engine too unless ``keep_engine``: it does
        not depend on the network, so a switch keeps the local chat running)."""
        # Background jobs stop first: none may start a transaction while the rest shuts down.
        # (Their handlers are idempotent; an interrupted one re-runs at the next start.)
        # Each step is attempted whatever the one before raised: a connection or a lock file
        # left open here stays open until the process ends.
        if self.supervisor is not None:
            sup, self.supervisor = self.supervisor, None
            await _quietly(sup.stop(), "stopping the background payments")
        for runner in self.runners():
            await _quietly(runner.stop(), "stopping a job runner")
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        if self._provider is not None:
            with contextlib.suppress(Exception):
                await self._provider.leave_nothing_online()
        self._provider = None
        self._consumer = None
        if not keep_engine:
            if self._engine is not None and self._owns_engine:
                await _quietly(self._engine.stop(), "stopping the local engine")
            self._engine = None
        if self._runtime is not None:
            await self._runtime.close()
        self.chain = None


async def _quietly(step: Awaitable[Any], what: str) -> None:
    try:
        await step
    except Exception:
        log.exception("%s failed; closing the rest anyway", what)


def services_of(ctx: AppContext) -> AppServices:
    svc = ctx.extras.get(SERVICES_KEY)
    if not isinstance(svc, AppServices):
        svc = AppServices(ctx)
        ctx.extras[SERVICES_KEY] = svc
    return svc
