"""`morpheus api serve` as an operator runs it: a real process printing its URL, answering with
the key from the key file, and stopping cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from app.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_api_serve_prints_url_and_serves_with_the_saved_key(tmp_path: Path) -> None:
    env = {**os.environ, "MORPHEUS_HOME": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "api", "serve", "--port", "0", "--slots", "1"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        url = ""
        for line in proc.stdout:  # ends if the process dies, so no hang on failure
            lines.append(line)
            if line.startswith("OpenAI-compatible API: "):
                url = line.split(": ", 1)[1].strip()
            if line.startswith("Press Ctrl+C"):
                break
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1"), lines
        key_file = tmp_path / "config" / "api_key"
        assert any(str(key_file) in line for line in lines)
        key = key_file.read_text().strip()
        assert key not in "".join(lines)  # the key itself is not printed

        req = urllib.request.Request(url + "/models", headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            models = json.load(r)
        name = models["data"][0]["id"]
        body = json.dumps(
            {"model": name, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}
        ).encode()
        req = urllib.request.Request(
            url + "/chat/completions",
            data=body,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            answer = json.load(r)
        assert answer["choices"][0]["message"]["content"]
        proc.send_signal(signal.SIGTERM)
        out, _err = proc.communicate(timeout=30)
        assert proc.returncode == 0
        assert "Stopped." in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_api_key_command_shows_location_and_regenerates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MORPHEUS_HOME", str(tmp_path))
    key_file = tmp_path / "config" / "api_key"

    def run(*args: str) -> list[str]:
        assert main(["api", "key", *args]) == 0
        return capsys.readouterr().out.splitlines()

    first = run("--show")
    assert first[0] == f"API key file: {key_file}"
    assert first[-1] == key_file.read_text().strip()
    assert run()[-1] == f"API key file: {key_file}"  # without --show the key stays hidden
    new = run("--regenerate", "--show")[-1]
    assert new != first[-1] and new == key_file.read_text().strip()
