"""`morpheus api serve` and `morpheus api key`: the local OpenAI-compatible API, headless.

Why a command: operators and scripts want the same API the desktop app offers without a window,
e.g. to point an editor or agent at a model on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from typing import Any

from app.api.keys import api_key_path, load_or_create_api_key, regenerate_api_key
from app.commands import help_when_bare
from app.paths import app_paths


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "api", help="the local OpenAI-compatible API (serve, key)"
    )
    asub = p.add_subparsers(dest="api_command", metavar="ACTION")
    serve = asub.add_parser("serve", help="serve a local model at http://127.0.0.1:PORT/v1")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="listen address (default 127.0.0.1; anything else exposes the API to the network)",
    )
    serve.add_argument(
        "--port", type=int, help="listen port (default: the API port in settings; 0 = any free)"
    )
    serve.add_argument(
        "--model", help="model name from the library or a .gguf path (default: the bundled one)"
    )
    serve.add_argument("--slots", type=int, default=4, help="requests decoded together")
    serve.set_defaults(handler=_serve)
    key = asub.add_parser("key", help="where the API key is kept; print or replace it")
    key.add_argument("--show", action="store_true", help="print the key itself")
    key.add_argument(
        "--regenerate", action="store_true", help="make a new key (the old one stops working)"
    )
    key.set_defaults(handler=_key)
    help_when_bare(p)


def _default_port() -> int:
    from app.storage.settings import load_settings

    return int(load_settings(app_paths().ensure().settings_file).settings.api_port)


def _key(args: argparse.Namespace) -> int:
    paths = app_paths().ensure()
    key = regenerate_api_key(paths) if args.regenerate else load_or_create_api_key(paths)
    print(f"API key file: {api_key_path(paths)}")
    if args.regenerate:
        print("A new key was made; restart the API for it to take effect.")
    if args.show:
        print(key)
    return 0


async def _serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.api.router import EngineRouter
    from app.api.server import ApiServer, is_loopback
    from app.inference.engine import LocalEngine
    from app.inference.library import ModelLibrary

    paths = app_paths().ensure()
    key = load_or_create_api_key(paths)
    port = _default_port() if args.port is None else args.port
    if args.model and args.model.endswith(".gguf") and Path(args.model).is_file():
        model_path, name = Path(args.model), Path(args.model).stem
    else:
        library = ModelLibrary(paths.models)
        model = library.get(args.model) if args.model else library.default()
        model_path, name = model.path, model.name
    engine = LocalEngine(model_path, n_slots=args.slots, name=name)
    print(f"Loading {name} ...", flush=True)
    await engine.start()
    router = EngineRouter()
    router.register(name, engine)
    server = ApiServer(router, key, host=args.host, port=port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await server.start()
        if not is_loopback(args.host):
            print(f"Warning: listening on {args.host}, reachable from other computers.")
        print(f"OpenAI-compatible API: {server.base_url}", flush=True)
        print(f"Model: {name}", flush=True)
        print(
            f"API key: in {api_key_path(paths)} (print it with `morpheus api key --show`)",
            flush=True,
        )
        print("Press Ctrl+C to stop.", flush=True)
        await stop.wait()
    finally:
        await server.stop()
        await engine.stop()
    print("Stopped.", flush=True)
    return 0
