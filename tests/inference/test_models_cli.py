"""`morpheus models ...` end to end through app.cli.main (MORPHEUS_HOME is a temp dir)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from app.cli import main
from app.paths import app_paths


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MORPHEUS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_list_shows_bundled_and_catalog(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "list", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    names = [m["name"] for m in out["installed"]]
    assert names == ["SmolLM2-135M-Instruct"]
    assert out["installed"][0]["quantization"] == "Q4_1"
    assert out["installed"][0]["fit"] == "fits"
    assert any(c["name"] == "Llama-3.2-1B-Instruct" for c in out["catalog"])


def test_import_then_info(home: Path, tiny_gguf: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "import", str(tiny_gguf)]) == 0
    assert (app_paths().models / "tiny.gguf").exists()
    capsys.readouterr()
    assert main(["models", "info", "tiny", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["context_length"] == 1024 and info["quantization"] == "ALL_F32"


def test_bad_input_is_a_plain_error(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_text("hello")
    assert main(["models", "import", str(junk)]) == 1
    assert "not a GGUF" in capsys.readouterr().err
    assert main(["models", "info", "nope"]) == 1
    assert "no model called" in capsys.readouterr().err
    assert main(["models", "download", "not-a-model"]) == 1
    assert "neither a catalog model nor a URL" in capsys.readouterr().err


def test_probe(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "probe", "--json"]) == 0
    hw = json.loads(capsys.readouterr().out)
    assert hw["usable_cores"] == len(os.sched_getaffinity(0))
    assert hw["ram_total"] > 0
