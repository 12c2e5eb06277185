"""`morpheus models list|info|import|download|probe`: the model library from a terminal."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app.commands import help_when_bare
from app.errors import UserFacingError


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "models", help="local models: list, download, probe"
    )
    msub = p.add_subparsers(dest="models_cmd", metavar="ACTION")
    help_when_bare(p)

    ls = msub.add_parser("list", help="installed models, broken files and the catalog")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=_list)

    info = msub.add_parser("info", help="metadata of one installed model")
    info.add_argument("name")
    info.add_argument("--json", action="store_true")
    info.set_defaults(handler=_info)

    imp = msub.add_parser("import", help="copy a local .gguf file into the library")
    imp.add_argument("path", type=Path)
    imp.add_argument("--move", action="store_true", help="move instead of copy")
    imp.set_defaults(handler=_import)

    dl = msub.add_parser("download", help="download a catalog model (by name) or a URL")
    dl.add_argument("what", help="catalog name or https URL of a .gguf file")
    dl.add_argument("--sha256", help="expected checksum (catalog entries carry their own)")
    dl.add_argument("--filename", help="file name in the library (default: from the URL)")
    dl.set_defaults(handler=_download)

    pr = msub.add_parser("probe", help="CPU, RAM and GPU of this computer")
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(handler=_probe)


def _lib() -> Any:
    from app.inference.library import ModelLibrary
    from app.paths import app_paths

    return ModelLibrary(app_paths().ensure().models)


def _size(n: int) -> str:
    return f"{n / 2**30:.2f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"


def _list(args: argparse.Namespace) -> int:
    from app.inference.gguf_meta import human_params
    from app.inference.hardware import estimate_fit, probe
    from app.inference.library import describe, load_catalog

    lib = _lib()
    models, broken = lib.scan()
    hw = probe()
    installed = {m.path.name for m in models}
    catalog = [c for c in load_catalog() if c.filename not in installed and not c.bundled]
    if args.json:
        out = {
            "installed": [
                describe(m)
                | {"fit": estimate_fit(m.info.file_size, m.info.kv_cache_bytes(4096), hw).verdict}
                for m in models
            ],
            "broken": [{"path": str(p), "reason": e.message} for p, e in broken],
            "catalog": [
                {
                    "name": c.name,
                    "size_bytes": c.size,
                    "params": c.params,
                    "quant": c.quant,
                    "fit": estimate_fit(c.size, c.ram_needed - c.size, hw).verdict,
                }
                for c in catalog
            ],
        }
        print(json.dumps(out, indent=2))
        return 0
    print("Installed models:")
    for m in models:
        i = m.info
        fit = estimate_fit(i.file_size, i.kv_cache_bytes(4096), hw)
        tag = " (bundled)" if m.bundled else ""
        print(
            f"  {m.name}{tag}: {i.architecture} {human_params(i.parameters)} {i.quantization}, "
            f"context {i.context_length}, {_size(i.file_size)} — {fit.verdict}"
        )
    for p, e in broken:
        print(f"  ! {p.name}: {e.message}")
    if catalog:
        print("Available to download:")
        for c in catalog:
            fit = estimate_fit(c.size, c.ram_needed - c.size, hw)
            print(
                f"  {c.name}: {c.params} {c.quant}, {_size(c.size)} — {fit.verdict} ({fit.reason})"
            )
    return 0


def _info(args: argparse.Namespace) -> int:
    from app.inference.hardware import estimate_fit, probe
    from app.inference.library import describe

    m = _lib().get(args.name)
    d = describe(m)
    fit = estimate_fit(m.info.file_size, m.info.kv_cache_bytes(4096), probe())
    d["fit"] = fit.verdict
    d["fit_reason"] = fit.reason
    d["device"] = fit.device
    if args.json:
        print(json.dumps(d, indent=2))
    else:
        for k, v in d.items():
            print(f"{k:>18}: {v}")
    return 0


def _import(args: argparse.Namespace) -> int:
    m = _lib().import_file(args.path, move=args.move)
    print(f"Imported {m.name} ({_size(m.info.file_size)}) into {m.path.parent}")
    return 0


async def _download(args: argparse.Namespace) -> int:
    from app.inference.download import ModelDownload, Progress
    from app.inference.library import load_catalog

    lib = _lib()
    what: str = args.what
    entry = next((c for c in load_catalog() if c.name.lower() == what.lower()), None)
    if entry is not None:
        if entry.bundled or not entry.url:
            print(f"{entry.name} is bundled with the program; nothing to download.")
            return 0
        url, filename, sha, size = entry.url, entry.filename, entry.sha256, entry.size
    elif what.startswith(("http://", "https://")):
        url = what
        filename = args.filename or url.split("?")[0].rsplit("/", 1)[-1] or "model.gguf"
        sha, size = None, None
    else:
        raise UserFacingError(
            f"{what!r} is neither a catalog model nor a URL. See `morpheus models list`."
        )
    if not filename.endswith(".gguf"):
        filename += ".gguf"
    sha = args.sha256 or sha

    def show(p: Progress) -> None:
        pct = f"{100 * p.fraction:5.1f}%" if p.fraction is not None else _size(p.done)
        print(f"\r  {pct}  {p.bytes_per_s / 2**20:6.1f} MB/s", end="", file=sys.stderr)

    dl = ModelDownload(url, lib.dir / filename, sha256=sha, expected_size=size, progress=show)
    print(f"Downloading {filename} …", file=sys.stderr)
    try:
        path = await dl.run()
    except KeyboardInterrupt:
        print("\nPaused; run the same command again to continue.", file=sys.stderr)
        return 130
    print(f"\nSaved and verified: {path}", file=sys.stderr)
    return 0


def _probe(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from app.inference.hardware import gib, probe

    hw = probe()
    if args.json:
        print(json.dumps(asdict(hw), indent=2))
        return 0
    print(
        f"CPU: {hw.cpu_model} — {hw.physical_cores} cores / {hw.logical_cores} threads, "
        f"{hw.usable_cores} usable"
    )
    print(f"RAM: {gib(hw.ram_total)} total, {gib(hw.ram_available)} free")
    if hw.gpus:
        for g in hw.gpus:
            print(f"GPU: {g.name} — {gib(g.vram_total)} VRAM, {gib(g.vram_free)} free")
    else:
        print("GPU: none found (models run on the CPU)")
    return 0
