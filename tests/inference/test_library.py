"""GGUF metadata, broken files, the library folder and the catalog."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from app.errors import UserFacingError
from app.inference.gguf_meta import InvalidModelFile, read_gguf
from app.inference.library import BUNDLED_NAME, ModelLibrary, load_catalog


def test_bundled_model_metadata(model_path: Path) -> None:
    info = read_gguf(model_path)
    assert info.architecture == "llama"
    assert 130e6 < info.parameters < 140e6  # SmolLM2-135M
    assert info.quantization == "Q4_1"
    assert info.context_length == 8192
    assert info.chat_template and "<|im_start|>" in info.chat_template
    assert info.kv_cache_bytes(2048) == 2 * 2 * 30 * 2048 * 3 * 64


def test_small_written_file_metadata(tiny_gguf: Path) -> None:
    info = read_gguf(tiny_gguf)
    assert info.name == "tiny-test"
    assert info.parameters == 256 * 1024
    assert info.quantization == "ALL_F32"
    assert info.context_length == 1024
    assert info.n_head_kv == 2


def test_truncated_file_is_invalid(tmp_path: Path, tiny_gguf: Path) -> None:
    data = tiny_gguf.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: len(data) - 1000])
    with pytest.raises(InvalidModelFile) as err:
        read_gguf(cut)
    assert "incomplete" in err.value.message
    head_only = tmp_path / "head.gguf"
    head_only.write_bytes(data[:40])
    with pytest.raises(InvalidModelFile):
        read_gguf(head_only)


def test_non_gguf_file_is_invalid(tmp_path: Path) -> None:
    page = tmp_path / "model.gguf"
    page.write_text("<!doctype html><html><body>Not found</body></html>")
    with pytest.raises(InvalidModelFile) as err:
        read_gguf(page)
    assert "not a GGUF" in err.value.message
    empty = tmp_path / "empty.gguf"
    empty.write_bytes(b"")
    with pytest.raises(InvalidModelFile):
        read_gguf(empty)


def test_library_lists_bundled_imported_and_reports_broken(tmp_path: Path, tiny_gguf: Path) -> None:
    lib = ModelLibrary(tmp_path / "models")
    names = [m.name for m in lib.models()]
    assert names == [BUNDLED_NAME]
    imported = lib.import_file(tiny_gguf)
    assert imported.path.parent == tmp_path / "models"
    assert imported.path.read_bytes() == tiny_gguf.read_bytes()
    assert tiny_gguf.exists()  # copied, not moved
    (tmp_path / "models" / "half.gguf.part").write_bytes(tiny_gguf.read_bytes()[:100])
    (tmp_path / "models" / "bad.gguf").write_bytes(b"hello")
    models, broken = lib.scan()
    assert [m.name for m in models] == [BUNDLED_NAME, "tiny"]
    assert [p.name for p, _ in broken] == ["bad.gguf"]
    assert lib.get("tiny").info.parameters == 256 * 1024
    with pytest.raises(UserFacingError):
        lib.import_file(tiny_gguf)  # already there


def test_import_refuses_broken_file_and_leaves_nothing(tmp_path: Path, tiny_gguf: Path) -> None:
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(tiny_gguf.read_bytes()[:5000])
    lib = ModelLibrary(tmp_path / "models", include_bundled=False)
    with pytest.raises(InvalidModelFile):
        lib.import_file(cut)
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


def test_catalog_has_bundled_entry_matching_the_file(model_path: Path) -> None:
    cat = load_catalog()
    assert len(cat) >= 4
    bundled = [c for c in cat if c.bundled]
    assert len(bundled) == 1 and bundled[0].name == BUNDLED_NAME
    assert bundled[0].size == model_path.stat().st_size
    h = hashlib.sha256(model_path.read_bytes()).hexdigest()
    assert bundled[0].sha256 == h
    for c in cat:
        assert c.bundled or (c.url or "").startswith("https://")
        assert c.ram_needed > c.size * 0.9 and c.params and c.quant
