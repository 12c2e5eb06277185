"""Compiled contract artifacts shipped under ``resources/contracts`` (built by
``scripts/compile_contracts.py``), so the devnet can deploy without node or solc at run time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from app.errors import UserFacingError
from app.paths import resources_dir

ARTIFACT_NAMES = (
    "LumerinDiamond",
    "MorpheusToken",
    "Multicall3",
    "DelegateRegistry",
    "OwnedProviderMock",
)


class ArtifactError(UserFacingError):
    """A contract artifact is missing or unreadable (a broken install)."""


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str  # creation code, 0x-hex
    deployed_bytecode: str  # runtime code, 0x-hex (for anvil_setCode at fixed addresses)
    source_hash: str


@cache
def load_artifact(name: str) -> Artifact:
    path = resources_dir() / "contracts" / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Artifact(
            name=name,
            abi=list(data["abi"]),
            bytecode=str(data["bytecode"]),
            deployed_bytecode=str(data.get("deployedBytecode", "0x")),
            source_hash=str(data["sourceHash"]),
        )
    except FileNotFoundError as exc:
        raise ArtifactError(
            f"The contract file for {name} is missing; reinstall the program.", detail=str(path)
        ) from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(
            f"The contract file for {name} is damaged; reinstall the program.",
            detail=f"{path}: {exc}",
        ) from exc
