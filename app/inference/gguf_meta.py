"""Read what a person needs to know about a GGUF file (architecture, size, quantization, context,
chat template) and prove the file is whole before anything tries to load it.

``gguf.GGUFReader`` parses every tokenizer array into numpy (seconds per file on a small CPU), so
this walks the header with ``gguf``'s own type tables and skips the big arrays instead.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import gguf

from app.inference.types import ModelLoadError

_SCALAR = {
    gguf.GGUFValueType.UINT8: "<B",
    gguf.GGUFValueType.INT8: "<b",
    gguf.GGUFValueType.UINT16: "<H",
    gguf.GGUFValueType.INT16: "<h",
    gguf.GGUFValueType.UINT32: "<I",
    gguf.GGUFValueType.INT32: "<i",
    gguf.GGUFValueType.FLOAT32: "<f",
    gguf.GGUFValueType.BOOL: "<?",
    gguf.GGUFValueType.UINT64: "<Q",
    gguf.GGUFValueType.INT64: "<q",
    gguf.GGUFValueType.FLOAT64: "<d",
}
_MAX_STRING = 64 * 1024 * 1024
_MAX_COUNT = 1 << 40


class InvalidModelFile(ModelLoadError):
    """The file is not a GGUF model, or it is cut short."""


@dataclass(frozen=True)
class GGUFInfo:
    path: Path
    file_size: int
    architecture: str
    name: str
    parameters: int
    quantization: str
    context_length: int
    chat_template: str | None
    n_layers: int
    n_embd: int
    n_head: int
    n_head_kv: int
    metadata: dict[str, Any] = field(default_factory=dict, repr=False)

    def kv_cache_bytes(self, n_ctx: int) -> int:
        """Bytes of f16 K+V cache for ``n_ctx`` tokens (how much memory context costs)."""
        if not (self.n_layers and self.n_embd and self.n_head):
            return 0
        head_dim = self.n_embd // self.n_head
        return 2 * 2 * self.n_layers * n_ctx * self.n_head_kv * head_dim


class _Reader:
    def __init__(self, f: BinaryIO, size: int) -> None:
        self.f = f
        self.size = size

    def read(self, n: int) -> bytes:
        data = self.f.read(n)
        if len(data) != n:
            raise EOFError
        return data

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        n = self.unpack("<Q")
        if n > _MAX_STRING:
            raise ValueError("string too long")
        return self.read(n).decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        n = self.unpack("<Q")
        if n > _MAX_STRING:
            raise ValueError("string too long")
        self.f.seek(n, os.SEEK_CUR)

    def value(self, vtype: int, *, keep_arrays: bool) -> Any:
        t = gguf.GGUFValueType(vtype)
        if t in _SCALAR:
            return self.unpack(_SCALAR[t])
        if t == gguf.GGUFValueType.STRING:
            return self.string()
        if t == gguf.GGUFValueType.ARRAY:
            itype = gguf.GGUFValueType(self.unpack("<I"))
            count = self.unpack("<Q")
            if count > _MAX_COUNT:
                raise ValueError("array too long")
            if not keep_arrays or count > 64:
                if itype in _SCALAR:
                    self.f.seek(struct.calcsize(_SCALAR[itype]) * count, os.SEEK_CUR)
                else:
                    for _ in range(count):
                        if itype == gguf.GGUFValueType.STRING:
                            self.skip_string()
                        else:
                            self.value(itype, keep_arrays=False)
                return f"<array of {count}>"
            return [self.value(itype, keep_arrays=True) for _ in range(count)]
        raise ValueError(f"unknown value type {vtype}")


def _quant_name(file_type: Any, tensor_types: dict[int, int]) -> str:
    if isinstance(file_type, int):
        try:
            return gguf.LlamaFileType(file_type).name.removeprefix("MOSTLY_")
        except ValueError:
            pass
    if tensor_types:
        dominant = max(tensor_types, key=lambda k: tensor_types[k])
        try:
            return gguf.GGMLQuantizationType(dominant).name
        except ValueError:
            return f"type {dominant}"
    return "unknown"


def read_gguf(path: Path) -> GGUFInfo:
    """Parse the header and tensor table; raise ``InvalidModelFile`` with a plain message if the
    file is not GGUF or its tensor data is cut short (e.g. a download that stopped early)."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidModelFile(f"Cannot open the model file {path.name}.", detail=str(exc)) from exc
    try:
        with path.open("rb") as f:
            return _parse(_Reader(f, size), path, size)
    except InvalidModelFile:
        raise
    except (EOFError, ValueError, struct.error, OverflowError, UnicodeDecodeError) as exc:
        raise InvalidModelFile(
            f"{path.name} is damaged or incomplete: it ends before the model data does. "
            "Download or copy it again.",
            detail=repr(exc),
        ) from exc
    except OSError as exc:
        raise InvalidModelFile(f"Cannot read the model file {path.name}.", detail=str(exc)) from exc


def _parse(r: _Reader, path: Path, size: int) -> GGUFInfo:
    head = r.f.read(4)
    if len(head) < 4 or struct.unpack("<I", head)[0] != gguf.GGUF_MAGIC:
        raise InvalidModelFile(
            f"{path.name} is not a GGUF model file. Local models must be in the GGUF format "
            "(the files llama.cpp, LM Studio and Ollama use)."
        )
    version = r.unpack("<I")
    if version not in (2, 3):
        raise InvalidModelFile(f"{path.name} uses GGUF version {version}, which is not supported.")
    n_tensors = r.unpack("<Q")
    n_kv = r.unpack("<Q")
    if n_tensors > 1_000_000 or n_kv > 1_000_000:
        raise ValueError("implausible header counts")
    meta: dict[str, Any] = {}
    for _ in range(n_kv):
        key = r.string()
        vtype = r.unpack("<I")
        meta[key] = r.value(vtype, keep_arrays=True)
    params = 0
    max_end = 0
    tensor_types: dict[int, int] = {}
    for _ in range(n_tensors):
        r.skip_string()
        n_dims = r.unpack("<I")
        if n_dims > 8:
            raise ValueError("too many tensor dims")
        n_el = 1
        for _d in range(n_dims):
            n_el *= r.unpack("<Q")
        ttype = r.unpack("<I")
        offset = r.unpack("<Q")
        block, type_size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(ttype)]
        nbytes = n_el * type_size // block
        params += n_el
        tensor_types[ttype] = tensor_types.get(ttype, 0) + nbytes
        max_end = max(max_end, offset + nbytes)
    align = int(meta.get("general.alignment", gguf.GGUF_DEFAULT_ALIGNMENT) or 32)
    pos = r.f.tell()
    data_start = (pos + align - 1) // align * align
    if data_start + max_end > size:
        missing = data_start + max_end - size
        raise InvalidModelFile(
            f"{path.name} is incomplete: {missing:,} bytes of model data are missing. "
            "Download or copy it again.",
            detail=f"expected {data_start + max_end} bytes, file has {size}",
        )
    arch = str(meta.get("general.architecture", "unknown"))

    def num(key: str) -> int:
        v = meta.get(f"{arch}.{key}", 0)
        if isinstance(v, list):
            v = max(v) if v else 0
        return int(v) if isinstance(v, int | float) else 0

    n_head = num("attention.head_count")
    n_head_kv = num("attention.head_count_kv") or n_head
    template = meta.get("tokenizer.chat_template")
    return GGUFInfo(
        path=path,
        file_size=size,
        architecture=arch,
        name=str(meta.get("general.name") or path.stem),
        parameters=params,
        quantization=_quant_name(meta.get("general.file_type"), tensor_types),
        context_length=num("context_length"),
        chat_template=template if isinstance(template, str) else None,
        n_layers=num("block_count"),
        n_embd=num("embedding_length"),
        n_head=n_head,
        n_head_kv=n_head_kv,
        metadata=meta,
    )


def human_params(n: int) -> str:
    for unit, div in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= div:
            return f"{n / div:.1f}{unit}".replace(".0", "")
    return str(n)
