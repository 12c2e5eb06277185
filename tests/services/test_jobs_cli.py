"""`morpheus jobs run|list`, `morpheus close`: the background payments headless, on the devnet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.chain.devnet import Devnet
from app.cli import main
from app.paths import app_paths
from app.services.supervisor import DataDirLock
from tests.devnet_fixture import devnet  # noqa: F401  (fixture)

INDEX = 4


@pytest.fixture
def home(devnet: Devnet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:  # noqa: F811
    monkeypatch.setenv("MORPHEUS_HOME", str(tmp_path))
    paths = app_paths().ensure()
    (paths.data / "devnet").mkdir(parents=True, exist_ok=True)
    (paths.data / "devnet" / "network.json").write_text(json.dumps(devnet.network))
    return tmp_path


def test_jobs_run_until_idle_and_close_with_nothing_open(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--network", "devnet", "--dev-account", str(INDEX)]
    assert main(["jobs", "run", "--until-idle", *args]) == 0
    assert "Running background payments" in capsys.readouterr().out
    assert main(["close", *args]) == 0
    assert "No open sessions." in capsys.readouterr().out
    assert main(["jobs", "list", *args]) == 0


def test_a_second_job_runner_says_who_holds_the_data_folder(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = DataDirLock(app_paths().data, "Morpheus Desktop")
    lock.acquire()
    try:
        code = main(["jobs", "run", "--until-idle", "--network", "devnet", "--dev-account",
                     str(INDEX)])
    finally:
        lock.release()
    assert code == 1
    err = capsys.readouterr().err
    assert "already run by Morpheus Desktop" in err and "Traceback" not in err


def test_damaged_settings_never_switch_the_cli_to_another_network(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = app_paths().settings_file
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text('{"network": "devnet", ')  # cut off mid-write
    assert main(["jobs", "list", "--dev-account", str(INDEX)]) == 1
    err = capsys.readouterr().err
    assert "not clear which network" in err and "--network" in err
    # Still refused on the next run (the damaged file was moved aside, none is left)...
    assert main(["jobs", "list", "--dev-account", str(INDEX)]) == 1
    # ...and an explicit network works.
    assert main(["jobs", "list", "--network", "devnet", "--dev-account", str(INDEX)]) == 0
