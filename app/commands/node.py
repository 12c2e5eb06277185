"""`morpheus provider serve`, `morpheus chat`, `morpheus sessions`, `morpheus claim`,
`morpheus withdraw`: the network node, headless, for operators and scripts."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import time
from typing import Any

from app.chain.devnet import dev_account
from app.commands import help_when_bare, sigterm_cancels_task
from app.commands.jobs import take_env_password
from app.commands.provider_backend import (
    add_backend_args,
    add_stream_args,
    close_provider_engine,
    open_provider_engine,
)
from app.errors import UserFacingError
from app.inference.types import ChatMessage, ChatRequest, CompletionDone, SamplingParams, TokenDelta
from app.services.runtime import Runtime
from app.storage.settings import NETWORK_ALIASES
from app.wallet.lock import WalletSigner
from app.wallet.signer import LocalSigner
from app.wallet.units import parse_amount


def _network_key(text: str) -> str:
    """Every name ``--help`` lists (and the chain module's own keys) means the same network."""
    return NETWORK_ALIASES.get(text.strip(), text.strip())


def _mor_amount(text: str) -> int:
    try:
        return parse_amount(text, 18, "MOR")
    except UserFacingError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _port(text: str) -> int:
    if not text.strip().isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError("the port is a number from 0 to 65535")
    return int(text)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--network", type=_network_key,
                   help="network key (base-mainnet, base-sepolia, arbitrum-one, "
                   "arbitrum-sepolia, devnet); default: the one in settings")
    p.add_argument("--dev-account", type=int, metavar="N",
                   help="devnet only: use test-mnemonic account N instead of the wallet")


def register(sub: Any) -> None:
    prov = sub.add_parser("provider", help="run a provider node (Share my GPU, headless)")
    psub = prov.add_subparsers(dest="provider_command", metavar="ACTION")
    serve = psub.add_parser("serve", help="register, bid and serve a model until stopped")
    _common(serve)
    serve.add_argument("--model", help="model name from the library or a .gguf path "
                       "(default: the bundled SmolLM2)")
    serve.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1;"
                       " use 0.0.0.0 to accept other machines)")
    serve.add_argument("--port", type=_port, default=3333, help="listen port (default 3333; "
                       "0 picks a free one)")
    serve.add_argument("--public-endpoint", help="host:port or name:port other people dial "
                       "(published on chain); default: the router's mapping with --upnp, or "
                       "the listen address on the devnet")
    serve.add_argument("--upnp", action="store_true",
                       help="open the port on your router (UPnP IGD, then NAT-PMP) and publish "
                       "the router's public address")
    price = serve.add_mutually_exclusive_group()
    price.add_argument("--price-per-hour", type=_mor_amount, metavar="MOR",
                       help="price in MOR per hour (default: suggested from current bids)")
    price.add_argument("--price", type=int, metavar="WEI_PER_SECOND",
                       help="advanced: the exact price in wei per second the bid carries")
    serve.add_argument("--stake", type=_mor_amount, metavar="MOR",
                       help="total provider stake in MOR (default: the network's minimum); the "
                       "contract pays you at most your stake per 365-day period")
    serve.add_argument("--keep-serving-free", action="store_true",
                       help="keep the bid when the earnings cap is reached (serve for free)")
    serve.add_argument("--slots", type=int, default=4, help="sequences decoded together")
    serve.add_argument("--deregister-on-exit", action="store_true",
                       help="return the provider stake when stopping")
    add_backend_args(serve)
    add_stream_args(serve)
    serve.set_defaults(handler=_provider_serve)
    from app.commands.hot_key import register as register_hot_key  # serve with a hot key

    register_hot_key(psub, _common, _port, _network_key, _signer)
    help_when_bare(prov)

    chat = sub.add_parser("chat", help="open a session with a provider and chat")
    _common(chat)
    chat.add_argument("--model", help="network model name or id (the best-rated bid is used)")
    chat.add_argument("--bid", help="a specific bid id instead of --model")
    chat.add_argument("--duration", type=int, default=600, help="session length in seconds")
    chat.add_argument("--prompt", help="send this one prompt, print the answer, close")
    chat.add_argument("--max-tokens", type=int, default=256)
    chat.add_argument("--keep-open", action="store_true",
                      help="do not close the session at exit (it is closed at its end)")
    chat.set_defaults(handler=_chat)

    sessions = sub.add_parser("sessions", help="sessions this wallet opened or served")
    _common(sessions)
    sessions.add_argument("--reconcile", action="store_true",
                          help="also look on chain for sessions this computer does not know")
    sessions.set_defaults(handler=_sessions)

    claim = sub.add_parser("claim", help="provider: claim earnings the contract owes you")
    _common(claim)
    claim.set_defaults(handler=_claim)

    withdraw = sub.add_parser("withdraw", help="withdraw stake held after early closes")
    _common(withdraw)
    withdraw.set_defaults(handler=_withdraw)


def _signer(rt: Runtime, args: argparse.Namespace) -> LocalSigner | WalletSigner:
    if args.dev_account is not None:
        if rt.network_key != "devnet":
            raise UserFacingError("--dev-account is only allowed on the local devnet.")
        return LocalSigner(bytes(dev_account(args.dev_account).key))
    from app.services.wallet_service import WalletService

    wallet = WalletService(rt.paths)
    wallet.network_chain_id = rt.network().chain_id  # test keys sign only on the devnet
    if not wallet.exists():
        raise UserFacingError("No wallet yet. Create one with `morpheus wallet create`.")
    if not wallet.try_auto_unlock():
        password = take_env_password() or getpass.getpass("Wallet password: ")
        wallet.unlock(password)
    return wallet.signer


def _mor(wei: int) -> str:
    return f"{wei / 10**18:.6f} MOR"


async def _provider_serve(args: argparse.Namespace) -> int:
    rt = Runtime(network_key=args.network)
    # SIGTERM deletes the bid too, as Ctrl-C does.
    with sigterm_cancels_task() as terminated:
        try:
            from app.services.provider_reach import ReachPlan

            # Typing --host is the user's yes to listening beyond this computer. Refused endpoints
            # are refused here, before the wallet, the model or any MOR.
            ReachPlan(args.host, args.public_endpoint, args.upnp,
                      listen_consent=True).check_before_listening(rt.network_key)
            signer = _signer(rt, args)
            engine, model_name = await open_provider_engine(args, rt.paths.models)
            # The same job supervisor as the GUI and `morpheus jobs run` (one per data folder).
            from app.services.supervisor import JobSupervisor

            supervisor = JobSupervisor(rt, signer, who="`morpheus provider serve`")
            await supervisor.start()
            provider = await rt.provider(signer, engine, model_name=model_name, host=args.host,
                                         port=args.port, public_endpoint=args.public_endpoint)
            provider.provider_stake = args.stake
            provider.stream_interval_ms = args.chunk_ms
            provider.upnp, provider.listen_consent = args.upnp, True
            provider.keep_serving_free = args.keep_serving_free
            try:
                price = args.price
                if args.price_per_hour is not None:
                    price = args.price_per_hour // 3600
                    if price <= 0:
                        raise UserFacingError("--price-per-hour is too small: the contract counts "
                                              "whole units of MOR per second.")
                bid = await provider.go_online(price,
                                               on_step=lambda s: print(f"- {s}", flush=True))
                d = provider.dashboard
                print(f"Serving {model_name} at {d.endpoint} as {provider.me}", flush=True)
                print(f"Bid {bid} (model {d.model_id})", flush=True)
                m = provider.reach.mapping
                if m is not None:
                    print(f"Router port mapped with {m.method}: {m.endpoint} -> {m.internal_ip}:"
                          f"{m.internal_port} (renewed while serving, removed at exit)", flush=True)
                if d.cap is not None:
                    print(d.cap.text, flush=True)
                provider.on_change(_print_cap_changes())
                await provider.serve_forever()
            finally:
                try:
                    await asyncio.shield(provider.go_offline(deregister=args.deregister_on_exit))
                    print("Stopped: the bid is deleted.", flush=True)
                except Exception as exc:
                    msg = exc.message if isinstance(exc, UserFacingError) else str(exc)
                    print(f"Could not delete the bid while stopping: {msg}. Run `morpheus provider "
                          "serve` again and stop it, or delete it in the app.", file=sys.stderr,
                          flush=True)
                await supervisor.stop()
                await close_provider_engine(engine)
            return 0
        except asyncio.CancelledError:
            if not terminated:
                raise
            return 0
        finally:
            await rt.close()


def _print_cap_changes() -> Any:
    """Say once on the console when the earnings cap state changes (warned, reached)."""
    last: list[str] = [""]

    def listener(d: Any) -> None:
        cap = d.cap
        if cap is None:
            return
        key = "reached" if cap.cap_reached else "near" if cap.near_cap else ""
        if key and key != last[0]:
            print(cap.text, flush=True)
        last[0] = key

    return listener


async def _chat(args: argparse.Namespace) -> int:
    rt = Runtime(network_key=args.network)
    try:
        consumer = await rt.consumer(_signer(rt, args))
        await consumer.reconcile()
        if args.bid:
            bid_id = args.bid
        elif args.model:
            bid_id = (await consumer.best_bids(args.model))[0].bid.id
        else:
            models = await consumer.network_models()
            if not models:
                raise UserFacingError("No model is offered on this network right now.")
            bid_id = models[0][1][0].bid.id
        bid = await consumer.chain.get_bid(bid_id)
        quote = await consumer.quote(bid, args.duration)
        print(f"Opening a {quote.duration_s // 60} min session: stake {_mor(quote.stake)} "
              "(returned when the session ends)", file=sys.stderr, flush=True)
        opened = await consumer.open_session(
            bid_id, args.duration, on_step=lambda s: print(f"- {s}", file=sys.stderr, flush=True)
        )
        print(f"Session {opened.record.session_id}", file=sys.stderr, flush=True)
        history: list[ChatMessage] = []
        try:
            prompts = [args.prompt] if args.prompt else None
            while True:
                if prompts is not None:
                    if not prompts:
                        break
                    text = prompts.pop()
                else:
                    try:
                        text = input("you> ")
                    except EOFError:
                        break
                    if text.strip() in ("/quit", "/exit"):
                        break
                    if not text.strip():
                        continue
                history.append(ChatMessage("user", text))
                req = ChatRequest(tuple(history), SamplingParams(max_tokens=args.max_tokens))
                answer: list[str] = []
                async for ev in opened.engine.chat_stream(req):
                    if isinstance(ev, TokenDelta):
                        answer.append(ev.text)
                        print(ev.text, end="", flush=True)
                    elif isinstance(ev, CompletionDone):
                        m = ev.metrics
                        print(f"\n[{m.completion_tokens} tokens, {m.tokens_per_s:.1f} tok/s, "
                              f"first token {m.ttft_ms:.0f} ms]", file=sys.stderr, flush=True)
                history.append(ChatMessage("assistant", "".join(answer)))
        finally:
            if args.keep_open:
                print("Kept open: it is closed at its end by the app or `morpheus jobs run` "
                      "(or now with `morpheus close`).", file=sys.stderr, flush=True)
            else:
                rec = await consumer.close_session(opened.record.session_id)
                print(f"Closed. Returned now: {_mor(rec.refunded)}; held until next UTC "
                      f"midnight: {_mor(rec.on_hold)} (the app withdraws it then, or run "
                      "`morpheus withdraw`)",
                      file=sys.stderr, flush=True)
        return 0
    finally:
        await rt.close()


async def _sessions(args: argparse.Namespace) -> int:
    from app.services.provider_claims import reconcile_served

    rt = Runtime(network_key=args.network)
    try:
        signer = _signer(rt, args)
        consumer = await rt.consumer(signer)
        if args.reconcile:
            new = await consumer.reconcile()
            print(f"{new} session(s) found on chain that were not tracked here. Their closes "
                  "run in the app or `morpheus jobs run`; `morpheus close` closes them now.")
        # Sessions served with our bids: the chain says whether they are closed, their stake
        # and what they paid us.
        served = await reconcile_served(consumer.chain, consumer.sessions, consumer.user)
        recs = consumer.sessions.list()
        if not recs:
            print("No sessions yet.")
        for r in recs:
            when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(r.opened_at)) if r.opened_at else "?"
            if r.role == "provider":
                print(f"{r.session_id}  {r.role:8} {r.status:7} opened {when}  stake "
                      f"{_mor(r.stake)}  earned {_mor(r.spent)}  prompts {r.prompts}")
                continue
            print(f"{r.session_id}  {r.role:8} {r.status:7} opened {when}  stake {_mor(r.stake)}"
                  f"  returned {_mor(r.refunded)}  held {_mor(r.on_hold)}")
        avail, hold = await consumer.held_stake()
        print(f"Held stake: {_mor(hold)} locked, {_mor(avail)} withdrawable now.")
        if served is not None:
            print(f"Provider earnings: {_mor(served.earnings.paid)} paid to you; "
                  f"{_mor(served.earnings.unpaid)} owed or accruing.")
            print(served.cap.text)
            if not served.active_bids:
                print("No active bid: new sessions are not accepted.")
        return 0
    finally:
        await rt.close()


async def _claim(args: argparse.Namespace) -> int:
    from app.chain.provider_limits import read_earnings
    from app.services.provider_cap import CapStatus
    from app.services.provider_claims import KIND
    from app.services.supervisor import JobSupervisor

    rt = Runtime(network_key=args.network)
    signer = _signer(rt, args)
    # The job supervisor: it re-queues a claim a killed run left behind, asks the chain about
    # any claim transaction already sent, and (re)opens a claim for every session the chain
    # still owes us, whatever the local jobs say.
    sup = JobSupervisor(rt, signer, who="`morpheus claim`")
    try:
        chain = await rt.chain()
        before = await read_earnings(chain, signer.address)
        runner = await sup.start()
        runner.store.recover_after_crash()
        if sup.claims is not None:
            await sup.claims.claims.schedule_claims()
        runner.poke_all()
        await runner.run_due()
        after = await read_earnings(chain, signer.address)
        print(f"Claimed now: {_mor(after.paid - before.paid)}")
        print(f"Paid to you over all sessions: {_mor(after.paid)}")
        if after.sessions:
            print(CapStatus.of(after).text)
        waiting = [j for j in runner.store.open_jobs() if j.kind == KIND]
        if waiting:
            print(f"{len(waiting)} claim(s) not possible yet ({waiting[0].last_error}); "
                  "`morpheus jobs run` or the app collects them when they are.")
        return 0
    finally:
        await sup.stop()
        await rt.close()


async def _withdraw(args: argparse.Namespace) -> int:
    rt = Runtime(network_key=args.network)
    try:
        consumer = await rt.consumer(_signer(rt, args))
        avail, hold = await consumer.held_stake()
        if not avail:
            print(f"Nothing to withdraw yet; {_mor(hold)} is held until the next UTC midnight.")
            return 0
        r = await consumer.chain.withdraw_user_stakes(consumer.signer)
        print(f"Withdrew {_mor(avail)} (tx {r.tx_hash}).")
        return 0
    finally:
        await rt.close()
