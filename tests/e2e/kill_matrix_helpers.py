"""Shared parts of the kill -9 matrix: a party's data folder, a child process to kill, the
supervisor restarted as the headless `morpheus jobs run` does, the chain driven forward until
every job is finished, and the wei-exact accounting of MOR and gas."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from app.chain.client import ChainClient
from app.chain.devnet import Devnet, dev_account
from app.market.economics import DAY, start_of_day
from app.paths import AppPaths
from app.services.app_services import AppServices
from app.services.context import AppContext
from app.services.runtime import Runtime
from app.services.supervisor import JobSupervisor
from app.services.tasks import TaskRunner
from app.services.wallet_service import WalletService
from app.storage.jobs import JobState
from app.storage.settings import Settings
from app.wallet.signer import LocalSigner
from tests.e2e.conftest import FAST

REPO = Path(__file__).resolve().parents[2]
PRICE = 10**13
MODEL = "SmolLM2-135M-Instruct"


def make_home(root: Path, devnet: Devnet) -> AppPaths:
    paths = AppPaths(root / "config", root / "data", root / "logs", root / "cache").ensure()
    (paths.data / "devnet").mkdir(parents=True, exist_ok=True)
    (paths.data / "devnet" / "network.json").write_text(json.dumps(devnet.network))
    return paths


async def until(cond: Callable[[], Awaitable[bool] | bool], timeout: float = 60.0,
                what: str = "condition") -> None:
    """Poll ``cond`` until true, or fail after ``timeout`` seconds (no blind sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        result = cond()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


@dataclass
class Killed:
    returncode: int
    out: str
    err: str


async def run_until_killed(
    args: list[str], home: Path, on_line: Callable[[str], Awaitable[None]] | None = None,
    timeout: float = 120.0,
) -> Killed:
    """Run ``python -m tests.e2e.kill_child ARGS``; ``on_line`` sees each stdout line (so the test
    can act: open a session with it, travel in time)."""
    env = {**os.environ, "MORPHEUS_HOME": str(home)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.e2e.kill_child", *args, cwd=REPO, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    lines: list[str] = []

    async def read() -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = raw.decode().strip()
            lines.append(line)
            if on_line is not None:
                await on_line(line)

    err_task = asyncio.ensure_future(proc.stderr.read())
    try:
        await asyncio.wait_for(read(), timeout)
        await asyncio.wait_for(proc.wait(), 30)
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    err = (await err_task).decode()
    return Killed(proc.returncode or 0, "\n".join(lines), err)


async def restart(paths: AppPaths, index: int) -> tuple[JobSupervisor, Runtime]:
    """The headless restart: the same supervisor `morpheus jobs run` starts."""
    rt = Runtime(paths, network_key="devnet", tx_policy=FAST)
    sup = JobSupervisor(rt, LocalSigner(bytes(dev_account(index).key)), who="test restart",
                        watch_interval=0.2, confirm_every=0.5)
    await sup.start()
    return sup, rt


async def restart_gui(paths: AppPaths, index: int) -> tuple[JobSupervisor, AppServices]:
    """The GUI restart: the window's services connect at launch (what the status bar's feed
    does) and start the supervisor for the wallet's account, whatever page is open."""
    wallet = WalletService(paths, keystore_scrypt_n=2**10, seal_scrypt_n=2**10)
    wallet.import_private_key("0x" + bytes(dev_account(index).key).hex(), "kill -9 matrix 42!")
    settings = Settings(network="devnet")
    ctx = AppContext(paths=paths, settings=settings, wallet=wallet)
    services = AppServices(ctx, runtime=Runtime(paths, settings, network_key="devnet",
                                                tx_policy=FAST))
    await services.connect()
    assert services.supervisor is not None, services.supervisor_error
    services.supervisor.watch_interval = 0.2
    return services.supervisor, services


async def gas_spent(chain: ChainClient, address: str, from_block: int) -> int:
    """ETH paid in fees by ``address`` in blocks after ``from_block`` (to the wei)."""
    total = 0
    latest = await chain.block_number()
    for n in range(from_block + 1, latest + 1):
        block = await chain.rpc.request("eth_getBlockByNumber", [hex(n), True])
        for tx in block["transactions"]:
            if tx["from"].lower() == address.lower():
                r = await chain.rpc.request("eth_getTransactionReceipt", [tx["hash"]])
                total += int(r["gasUsed"], 16) * int(r["effectiveGasPrice"], 16)
    return total


@dataclass
class Books:
    """MOR and ETH of every party at one moment."""

    mor: dict[str, int]
    eth: dict[str, int]
    block: int


async def books(chain: ChainClient, addresses: list[str]) -> Books:
    mor = {a: await chain.mor_balance(a) for a in addresses}
    eth = {a: await chain.eth_balance(a) for a in addresses}
    return Books(mor, eth, await chain.block_number())


async def drive_to_the_end(devnet: Devnet, chain: ChainClient, user: str,
                           runners: list[TaskRunner], timeout: float = 90.0) -> None:
    """Move chain time past every session end and the next UTC midnight, as often as needed,
    until every session of ``user`` is closed, nothing is held, and no job is left open."""

    last_poke = [0.0]

    def poke() -> None:
        # What the supervisor's chain watch does when chain time jumps.
        last_poke[0] = time.monotonic()
        for r in runners:
            r.poke_all()

    async def finished() -> bool:
        ids = await chain.user_session_ids(user)
        sessions = await chain.get_sessions(ids) if ids else []
        now = await chain.latest_timestamp()
        open_ = [s for s in sessions if not s.closed_at]
        if open_ and now < max(s.ends_at for s in open_):
            devnet.time_travel(max(s.ends_at for s in open_) - now + 5)
            poke()
            return False
        held = await chain.user_stakes_on_hold(user)
        if held.hold:
            devnet.time_travel(start_of_day(now) + DAY - now + 5)
            poke()
            return False
        if open_ or held.available:
            if time.monotonic() - last_poke[0] > 1.0:
                poke()
            return False
        for r in runners:
            if any(j.state is not JobState.DONE for j in r.store.all()
                   if j.kind.startswith(("consumer.", "provider.claim"))):
                if time.monotonic() - last_poke[0] > 1.0:
                    poke()
                return False
        return True

    try:
        await until(finished, timeout, "every session closed and every held stake withdrawn")
    except AssertionError as exc:
        left = [(j.key, j.state.value, j.last_error) for r in runners for j in r.store.all()
                if j.state is not JobState.DONE]
        raise AssertionError(f"{exc}; jobs not done: {left}") from None
