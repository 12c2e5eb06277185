"""The user's models: GGUF files in ``paths.models`` plus the bundled SmolLM2, which works offline
right after install. Only whole, verified ``*.gguf`` files are listed, so a ``.part`` download is
never offered for loading."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import UserFacingError
from app.inference.bundled import BUNDLED_NAME, bundled_model_path
from app.inference.gguf_meta import GGUFInfo, InvalidModelFile, read_gguf
from app.paths import resources_dir


class ModelNotFound(UserFacingError):
    """No model by that name in the library."""


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    url: str | None
    filename: str
    size: int
    sha256: str | None
    ram_needed: int
    vram_needed: int
    params: str
    quant: str
    bundled: bool = False
    description: str = ""


@dataclass(frozen=True)
class LocalModel:
    name: str
    path: Path
    bundled: bool
    info: GGUFInfo


def load_catalog(path: Path | None = None) -> list[CatalogEntry]:
    path = path or resources_dir() / "models" / "catalog.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    out = []
    for m in data["models"]:
        out.append(
            CatalogEntry(
                name=m["name"],
                url=m.get("url"),
                filename=m["filename"],
                size=int(m["size"]),
                sha256=m.get("sha256"),
                ram_needed=int(m["ram_needed"]),
                vram_needed=int(m["vram_needed"]),
                params=m["params"],
                quant=m["quant"],
                bundled=bool(m.get("bundled", False)),
                description=m.get("description", ""),
            )
        )
    return out


class ModelLibrary:
    def __init__(self, models_dir: Path, *, include_bundled: bool = True) -> None:
        self.dir = Path(models_dir)
        self.include_bundled = include_bundled
        self._cache: dict[tuple[str, int, int], GGUFInfo] = {}

    def _info(self, path: Path) -> GGUFInfo:
        st = path.stat()
        key = (str(path), st.st_size, st.st_mtime_ns)
        info = self._cache.get(key)
        if info is None:
            info = read_gguf(path)
            self._cache[key] = info
        return info

    def scan(self) -> tuple[list[LocalModel], list[tuple[Path, InvalidModelFile]]]:
        """(usable models, files that are there but broken — shown with their reason)."""
        models: list[LocalModel] = []
        broken: list[tuple[Path, InvalidModelFile]] = []
        if self.include_bundled:
            b = bundled_model_path()
            if b is not None:
                models.append(LocalModel(BUNDLED_NAME, b, True, self._info(b)))
        if self.dir.is_dir():
            for p in sorted(self.dir.glob("*.gguf")):
                if not p.is_file():
                    continue
                try:
                    models.append(LocalModel(p.stem, p, False, self._info(p)))
                except InvalidModelFile as exc:
                    broken.append((p, exc))
        return models, broken

    def models(self) -> list[LocalModel]:
        return self.scan()[0]

    def get(self, name: str) -> LocalModel:
        for m in self.models():
            if name in (m.name, m.path.name):
                return m
        raise ModelNotFound(f"There is no model called {name!r} in your library.")

    def default(self) -> LocalModel:
        models = self.models()
        if not models:
            raise ModelNotFound("No model is installed. Download one from the catalog.")
        return models[0]

    def preferred(self, name: str) -> LocalModel:
        """The model the user chose in the library, or the default if it is gone (deleted,
        renamed) or none was chosen."""
        if name:
            try:
                return self.get(name)
            except ModelNotFound:
                pass
        return self.default()

    def import_file(self, src: Path, *, move: bool = False) -> LocalModel:
        """Copy a GGUF into the library, verifying it first and again after the copy so a bad
        disk or a file still being written never ends up listed."""
        src = Path(src)
        read_gguf(src)  # refuse early, before copying gigabytes
        self.dir.mkdir(parents=True, exist_ok=True)
        name = src.name if src.suffix == ".gguf" else src.name + ".gguf"
        dest = self.dir / name
        if dest.exists():
            raise UserFacingError(f"A model file named {name} is already in your library.")
        free = shutil.disk_usage(self.dir).free
        size = src.stat().st_size
        if not move and size > free:
            raise UserFacingError(
                f"Not enough disk space to import {src.name}: it needs {size / 2**30:.1f} GB, "
                f"{free / 2**30:.1f} GB is free."
            )
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".importing", dir=self.dir)
        os.close(fd)
        tmp_path = Path(tmp)
        try:
            if move:
                shutil.move(str(src), tmp_path)
            else:
                shutil.copyfile(src, tmp_path)
            read_gguf(tmp_path)
            os.replace(tmp_path, dest)
        except BaseException:
            tmp_path.unlink(missing_ok=True)
            raise
        return LocalModel(dest.stem, dest, False, self._info(dest))

    def remove(self, name: str) -> None:
        m = self.get(name)
        if m.bundled:
            raise UserFacingError("The bundled model cannot be deleted.")
        m.path.unlink()


def describe(m: LocalModel) -> dict[str, Any]:
    from app.inference.gguf_meta import human_params

    i = m.info
    return {
        "name": m.name,
        "path": str(m.path),
        "bundled": m.bundled,
        "architecture": i.architecture,
        "parameters": human_params(i.parameters),
        "quantization": i.quantization,
        "context_length": i.context_length,
        "size_bytes": i.file_size,
        "has_chat_template": i.chat_template is not None,
    }
