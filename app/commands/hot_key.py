"""`morpheus provider hot-key new|authorize` and `morpheus provider serve-hot`: a provider node
that holds only a separate "hot" key, so the main wallet's key never sits on the server.

The main wallet registers the provider and posts its bids (in the app, or `provider serve` once
on a trusted machine) and authorises the hot key for the PROVIDER rule on the delegate.xyz v2
registry (spec §4.3). The server then signs approvals, chunks and receipts with the hot key; the
contract and every consumer that follows the delegation (ours and the Go node) accept them.
The hot key lives in a standard V3 keystore file; its password comes from
``MORPHEUS_HOT_KEY_PASSWORD`` (read once, then removed from the environment) or a prompt, never
from the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from app.commands import sigterm_cancels_task
from app.errors import UserFacingError

HOT_PASSWORD_ENV = "MORPHEUS_HOT_KEY_PASSWORD"
REGISTRY = "0x00000000000000447e69651d841bD8D104Bed493"  # delegate.xyz v2, same on every chain


class HotKeyError(UserFacingError):
    """The hot key file is missing, unreadable, or not authorised."""


def _password(prompt: str, *, confirm: bool = False) -> str:
    env = os.environ.pop(HOT_PASSWORD_ENV, None)
    if env:
        return env
    first = getpass.getpass(prompt)
    if confirm and getpass.getpass("Repeat it: ") != first:
        raise HotKeyError("The two passwords differ; nothing was written.")
    if not first:
        raise HotKeyError("The hot key needs a password.")
    return first


def load_hot_key(path: Path, password: str) -> Any:
    """The ``LocalKey`` in a V3 keystore file, or a plain error (wrong password, not a keystore)."""
    from app.p2p.keys import LocalKey
    from app.wallet.keystore import decrypt_keystore, parse_keystore

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise HotKeyError(f"Cannot read the hot key file {path}: {exc.strerror}.") from None
    data = parse_keystore(text)
    return LocalKey(decrypt_keystore(data, password))


def register(psub: Any, common: Any, port: Any, network: Any, signer: Any) -> None:
    """Adds ``hot-key`` and ``serve-hot`` under ``morpheus provider`` (``common``, ``port``,
    ``network`` and ``signer`` are `provider serve`'s own helpers; passed in, not imported, so
    the two command modules do not import each other)."""
    from app.commands.provider_backend import add_backend_args, add_stream_args

    hot = psub.add_parser("hot-key", help="a separate signing key for a provider server")
    hsub = hot.add_subparsers(dest="hot_key_command", metavar="ACTION")
    new = hsub.add_parser("new", help="create a hot key in an encrypted keystore file")
    new.add_argument("file", type=Path, help="where to write the keystore (must not exist)")
    new.set_defaults(handler=_new)
    auth = hsub.add_parser(
        "authorize", help="let a hot key sign for this wallet's provider (a transaction)"
    )
    common(auth)
    auth.add_argument("address", help="the hot key's address (0x...)")
    auth.add_argument("--revoke", action="store_true", help="withdraw the authorisation instead")
    auth.set_defaults(handler=_authorize, main_signer=signer)
    hot.set_defaults(handler=lambda a: hot.print_help() or 2)

    serve = psub.add_parser(
        "serve-hot",
        help="serve a provider's existing bids with only a hot key on this machine",
    )
    serve.add_argument("--network", type=network, help="network key (default: settings')")
    serve.add_argument("--provider", required=True, help="the main wallet's provider address")
    serve.add_argument("--hot-key", type=Path, required=True, help="the hot key's keystore file")
    serve.add_argument(
        "--model", help="model name from the library or a .gguf path (default: SmolLM2)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=port, default=3333, help="listen port (0: a free one)")
    serve.add_argument("--slots", type=int, default=4, help="sequences decoded together")
    add_backend_args(serve)
    add_stream_args(serve)
    serve.set_defaults(handler=_serve_hot)


async def _new(args: argparse.Namespace) -> int:
    from app.p2p.keys import LocalKey
    from app.wallet.keystore import encrypt_keystore

    path: Path = args.file
    if path.exists():
        raise HotKeyError(f"{path} already exists; choose a new file name.")
    password = _password("Password for the new hot key: ", confirm=True)
    secret = os.urandom(32)
    key = LocalKey(secret)
    data = encrypt_keystore(secret, password)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    print(f"Hot key {key.address} written to {path}", flush=True)
    print(
        "Authorise it from the main wallet with `morpheus provider hot-key authorize "
        f"{key.address}`.",
        flush=True,
    )
    return 0


def _address(text: str) -> str:
    raw = text.strip().lower()
    body = raw.removeprefix("0x")
    if len(body) != 40 or any(c not in "0123456789abcdef" for c in body):
        raise HotKeyError(f"{text!r} is not an address (0x followed by 40 hex digits).")
    return "0x" + body


async def _authorize(args: argparse.Namespace) -> int:
    from app.chain.abi import Fn
    from app.chain.delegation import PROVIDER_RULE, DelegationChecker
    from app.services.runtime import Runtime

    hot = _address(args.address)
    rt = Runtime(network_key=args.network)
    try:
        signer = args.main_signer(rt, args)
        chain = await rt.chain()
        fn = Fn("delegateContract(address,address,bytes32,bool)", ("bytes32",))
        data = fn.encode(hot, chain.diamond, bytes(PROVIDER_RULE), not args.revoke)
        await chain.tx.send(signer, REGISTRY, data, description="authorise a hot key")
        allowed = await DelegationChecker(chain.rpc, chain.diamond, ttl_s=0)(signer.address, hot)
        if allowed == args.revoke:
            raise HotKeyError("The registry did not record the change; try again.")
        verb = "may no longer" if args.revoke else "may now"
        print(f"{hot} {verb} sign for provider {signer.address.lower()}.", flush=True)
        return 0
    finally:
        await rt.close()


async def _serve_hot(args: argparse.Namespace) -> int:
    from app.chain.delegation import DelegationChecker
    from app.commands.provider_backend import close_provider_engine, open_provider_engine
    from app.p2p.provider_server import ProviderConfig, ProviderServer
    from app.services.chain_lookup import ChainSessionLookup
    from app.services.runtime import Runtime

    provider = _address(args.provider)
    key = load_hot_key(args.hot_key, _password(f"Password of {args.hot_key}: "))
    rt = Runtime(network_key=args.network)
    with sigterm_cancels_task() as stopping:
        try:
            chain = await rt.chain()
            # Refused here, before any model loads: a key the provider never authorised would have
            # every approval it signs refused by the contract and by consumers.
            authorised = DelegationChecker(chain.rpc, chain.diamond, ttl_s=0)
            if not await authorised(provider, key.address):
                raise HotKeyError(
                    f"The hot key {key.address} is not authorised to sign for provider {provider}. "
                    "From the main wallet run `morpheus provider hot-key authorize "
                    f"{key.address}` (or authorise it in the app), then start again."
                )
            engine, model_name = await open_provider_engine(args, rt.paths.models)
            config = ProviderConfig(
                chain.network.chain_id,
                model_name=model_name,
                host=args.host,
                port=args.port,
                provider_address=provider,
                contract_timestamp_unit="ms",  # as `provider serve` and the Go node sign approvals
                stream_interval_ms=args.chunk_ms,
            )
            server = ProviderServer(key, ChainSessionLookup(chain), engine, config)
            try:
                await server.start()
                print(
                    f"Serving {model_name} at {server.endpoint} for provider {provider} "
                    f"with hot key {key.address}",
                    flush=True,
                )
                await asyncio.Event().wait()  # until Ctrl-C or SIGTERM
            finally:
                await server.stop()
                await close_provider_engine(engine)
            return 0
        except asyncio.CancelledError:
            if not stopping:
                raise
            return 0
        finally:
            await rt.close()
            print("Stopped.", file=sys.stderr, flush=True)
