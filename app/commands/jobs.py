"""`morpheus jobs run|list|retry` and `morpheus close`: the background payments, headless.

``jobs run`` is the same supervisor the GUI starts at launch: it closes sessions at their end,
withdraws held stake after midnight, claims provider earnings and finishes interrupted opens,
until stopped. ``close`` closes this wallet's open sessions now (the unused stake comes back).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from app.commands import help_when_bare
from app.errors import UserFacingError
from app.services.runtime import Runtime
from app.services.tasks import TaskRunner

PASSWORD_ENV = "MORPHEUS_WALLET_PASSWORD"


def take_env_password() -> str | None:
    """Read the wallet password from the environment once and remove it at once, so no child
    process (the inference engine, a shell) ever inherits it."""
    return os.environ.pop(PASSWORD_ENV, None) or None


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--network", help="network key (default: the one in settings)")
    p.add_argument("--dev-account", type=int, metavar="N",
                   help="devnet only: use test-mnemonic account N instead of the wallet")


def register(sub: Any) -> None:
    jobs = sub.add_parser("jobs", help="background payments: close at end, withdraw, claim")
    jsub = jobs.add_subparsers(dest="jobs_command", metavar="ACTION")
    run = jsub.add_parser("run", help="run the background payments until stopped (headless)")
    _common(run)
    run.add_argument("--until-idle", action="store_true",
                     help="exit once no job is due within a minute (for scripts and tests)")
    run.set_defaults(handler=_run)
    lst = jsub.add_parser("list", help="every job with its state and reason")
    _common(lst)
    lst.set_defaults(handler=_list)
    retry = jsub.add_parser("retry", help="run a failed or waiting job again now")
    _common(retry)
    retry.add_argument("key", help="the job key shown by `morpheus jobs list`")
    retry.set_defaults(handler=_retry)
    help_when_bare(jobs)

    close = sub.add_parser("close", help="close this wallet's open sessions now (stake back)")
    _common(close)
    close.add_argument("session", nargs="?", help="one session id (default: every open one)")
    close.set_defaults(handler=_close)


def job_signer(rt: Runtime, args: argparse.Namespace, *, need_unlock: bool) -> Any:
    """The signer for the supervisor: the wallet (jobs wait while it is locked) or a devnet
    test account. ``need_unlock``: ask for the password on a terminal if it is not unlocked."""
    if args.dev_account is not None:
        from app.chain.devnet import dev_account
        from app.wallet.signer import LocalSigner

        if rt.network_key != "devnet":
            raise UserFacingError("--dev-account is only allowed on the local devnet.")
        return LocalSigner(bytes(dev_account(args.dev_account).key))
    from app.services.wallet_service import WalletService

    wallet = WalletService(rt.paths)
    if not wallet.exists():
        raise UserFacingError("No wallet yet. Create one with `morpheus wallet create`.")
    if not wallet.try_auto_unlock():
        password = take_env_password()
        if password is None and need_unlock and sys.stdin.isatty():
            password = getpass.getpass("Wallet password: ")
        if password is not None:
            wallet.unlock(password)
    return wallet.standing_signer()


def _job_line(job: Any) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(job.run_at))
    why = f"  ({job.last_error})" if job.last_error else ""
    return f"{job.state.value:8} {job.key:24.24} {job.title or job.kind}  next {when} UTC{why}"


async def _run(args: argparse.Namespace) -> int:
    from app.services.supervisor import JobSupervisor

    rt = Runtime(network_key=args.network)
    sup = JobSupervisor(rt, job_signer(rt, args, need_unlock=True), who="`morpheus jobs run`")
    try:
        runner = await sup.start()
        if sup.notice:
            print(f"note: {sup.notice}", file=sys.stderr, flush=True)
        print(f"Running background payments for {sup.address} on {rt.network_key}. "
              "Stop with Ctrl+C.", flush=True)
        last = ""
        while True:
            waiting = sup.waiting_for_unlock().text
            if waiting and waiting != last:
                print(f"note: {waiting} (set {PASSWORD_ENV} or use automatic unlock)",
                      file=sys.stderr, flush=True)
            last = waiting
            if args.until_idle:
                nxt = runner.next_run_at()
                if nxt is None or nxt - time.time() > 60:
                    break
            await asyncio.sleep(1.0)
        for job in runner.store.all(50):
            print(_job_line(job))
        return 0
    finally:
        await sup.stop()
        await rt.close()


@contextlib.asynccontextmanager
async def _job_runner(args: argparse.Namespace) -> AsyncIterator[TaskRunner]:
    """This wallet's job runner on the chosen network, for a look or a nudge (nothing runs)."""
    rt = Runtime(network_key=args.network)
    try:
        chain = await rt.chain()
        signer = job_signer(rt, args, need_unlock=False)
        yield rt.runner(chain.network.chain_id, signer.address)
    finally:
        await rt.close()


async def _list(args: argparse.Namespace) -> int:
    async with _job_runner(args) as runner:
        jobs = runner.store.all()
        if runner.store.notice:
            print(f"note: {runner.store.notice}", file=sys.stderr)
        if not jobs:
            print("No background jobs yet.")
        for job in jobs:
            print(_job_line(job))
        return 0


async def _retry(args: argparse.Namespace) -> int:
    async with _job_runner(args) as runner:
        if runner.store.get(args.key) is None:
            raise UserFacingError(f"There is no job {args.key!r}; see `morpheus jobs list`.")
        runner.retry(args.key)
        print("Queued; it runs now if `morpheus jobs run` or the app is running, "
              "otherwise at their next start.")
        return 0


async def _close(args: argparse.Namespace) -> int:
    from app.services.supervisor import JobSupervisor

    rt = Runtime(network_key=args.network)
    sup = JobSupervisor(rt, job_signer(rt, args, need_unlock=True), who="`morpheus close`")
    try:
        await sup.start()
        assert sup.consumer is not None
        ids = [args.session] if args.session else [r.session_id for r in sup.open_sessions()]
        if not ids:
            print("No open sessions.")
        for sid in ids:
            rec = await sup.consumer.close_session(sid)
            print(f"Closed {sid}: returned now {rec.refunded / 10**18:.6f} MOR; held until the "
                  f"next UTC midnight {rec.on_hold / 10**18:.6f} MOR (withdrawn by the app or "
                  "`morpheus jobs run` then).")
        return 0
    finally:
        await sup.stop()
        await rt.close()
