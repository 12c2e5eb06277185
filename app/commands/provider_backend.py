"""Which engine `morpheus provider serve` offers: the embedded llama.cpp engine with a library
model, or an existing OpenAI-compatible server (``--backend URL``) for models bigger than one
machine (llama-server with RPC workers, vLLM, Ollama); and how the answer is streamed."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from app.inference.types import ChatEngine

KEY_ENV = "MORPHEUS_BACKEND_KEY"  # keeps the key out of the shell history and `ps`


def add_backend_args(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--backend", metavar="URL", help="serve from this OpenAI-compatible "
                       "server (e.g. http://10.0.0.5:8080/v1) instead of the built-in engine")
    serve.add_argument("--backend-key", metavar="KEY", help="API key of that server "
                       f"(or set {KEY_ENV})")


def add_stream_args(serve: argparse.ArgumentParser) -> None:
    from app.p2p.provider_types import ProviderConfig

    serve.add_argument(
        "--chunk-ms", type=_chunk_ms, default=ProviderConfig.stream_interval_ms, metavar="MS",
        help="send the tokens made within MS milliseconds of the last chunk together (less "
        "work per token for both sides; default %(default)s); 0 sends every token on its own, "
        "as the reference Go node does")


def _chunk_ms(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of milliseconds: {text!r}") from None
    if not 0 <= value <= 1000:
        raise argparse.ArgumentTypeError("give 0 to 1000 milliseconds")
    return value


def _served_name(model_id: str) -> str:
    """A readable network name for a server's model id (llama-server reports file paths)."""
    return Path(model_id).name.removesuffix(".gguf") or model_id


async def open_provider_engine(args: argparse.Namespace, models_dir: Path) -> tuple[Any, str]:
    """The started engine and the model name to register; a plain error when the backend is
    down, refuses the key, or is not OpenAI-compatible."""
    backend = getattr(args, "backend", None)
    if backend:
        from app.inference.remote_openai import connect_backend

        key = args.backend_key or os.environ.get(KEY_ENV, "")
        print(f"Checking the model server at {backend} ...", flush=True)
        remote = await connect_backend(backend, key, args.model or "")
        print(f"The model server serves {remote.model}", flush=True)
        return remote, args.model or _served_name(remote.model)
    from app.inference.engine import LocalEngine
    from app.inference.library import ModelLibrary

    library = ModelLibrary(models_dir)
    model = library.get(args.model) if args.model else library.default()
    engine = LocalEngine(model.path, n_slots=args.slots, name=model.name)
    print(f"Loading {model.name} ...", flush=True)
    await engine.start()
    summary = engine.device_summary()
    if summary:
        print(f"Running on {summary}", flush=True)
    return engine, model.name


async def close_provider_engine(engine: ChatEngine) -> None:
    close = getattr(engine, "stop", None) or getattr(engine, "close", None)
    if close is not None:
        await close()
