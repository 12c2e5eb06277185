#!/usr/bin/env python3
"""Compile contracts/ with the pinned npm solc and write resources/contracts/<Name>.json.

Artifacts are committed so the program never needs node at run time; each carries a
``sourceHash`` over every source file and the compiler settings, which a test recomputes to catch
stale artifacts. Run: ``.venv/bin/python scripts/compile_contracts.py`` (``--check`` only verifies).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONTRACTS = REPO / "contracts"
NODE_MODULES = REPO / "node_modules"
OUT_DIR = REPO / "resources" / "contracts"

SOLC_VERSION = "0.8.37"
SETTINGS: dict[str, object] = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "cancun",
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
}
# Contract name -> source unit that defines it; these are the artifacts the program loads.
TARGETS = {
    "LumerinDiamond": "contracts/diamond/LumerinDiamond.sol",
    "MorpheusToken": "contracts/token/MorpheusToken.sol",
    "Multicall3": "contracts/utils/Multicall3.sol",
    "DelegateRegistry": "contracts/delegation/DelegateRegistry.sol",
    "OwnedProviderMock": "contracts/mocks/OwnedProviderMock.sol",
}

_IMPORT = re.compile(r'^\s*import\s+(?:[^"\']*from\s+)?["\']([^"\']+)["\']', re.MULTILINE)


def _resolve(unit: str, target: str) -> str:
    if target.startswith("."):
        parts = unit.split("/")[:-1]
        for piece in target.split("/"):
            if piece == "..":
                parts.pop()
            elif piece != ".":
                parts.append(piece)
        return "/".join(parts)
    return target


def _read(unit: str) -> str:
    path = NODE_MODULES / unit if unit.startswith("@") else REPO / unit
    return path.read_text(encoding="utf-8")


def collect_sources() -> dict[str, str]:
    """Every source unit reachable from contracts/, keyed by its solc unit name."""
    todo = [str(p.relative_to(REPO)) for p in sorted(CONTRACTS.rglob("*.sol"))]
    sources: dict[str, str] = {}
    while todo:
        unit = todo.pop()
        if unit in sources:
            continue
        text = _read(unit)
        sources[unit] = text
        todo.extend(_resolve(unit, imp) for imp in _IMPORT.findall(text))
    return dict(sorted(sources.items()))


def source_hash(sources: dict[str, str] | None = None) -> str:
    """sha256 over compiler version, settings and every (unit name, content) pair."""
    sources = collect_sources() if sources is None else sources
    h = hashlib.sha256()
    h.update(SOLC_VERSION.encode())
    h.update(json.dumps(SETTINGS, sort_keys=True).encode())
    for unit, text in sources.items():
        h.update(b"\0" + unit.encode() + b"\0" + text.encode())
    return h.hexdigest()


_NODE_COMPILE = """
const solc = require(process.argv[1]);
const input = require('fs').readFileSync(0, 'utf8');
const out = JSON.parse(solc.compile(input));
process.stdout.write(JSON.stringify({version: solc.version(), out: out}));
"""


def compile_all() -> dict[str, dict[str, object]]:
    sources = collect_sources()
    std_input = {
        "language": "Solidity",
        "sources": {unit: {"content": text} for unit, text in sources.items()},
        "settings": SETTINGS,
    }
    proc = subprocess.run(
        ["node", "-e", _NODE_COMPILE, str(NODE_MODULES / "solc")],
        input=json.dumps(std_input),
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(proc.stdout)
    if not str(result["version"]).startswith(SOLC_VERSION + "+"):
        raise SystemExit(f"solc {result['version']} found, {SOLC_VERSION} required")
    out = result["out"]
    errors = [e for e in out.get("errors", []) if e["severity"] == "error"]
    for e in out.get("errors", []):
        unit = e.get("sourceLocation", {}).get("file", "")
        if e["severity"] == "error" or not unit.startswith("@"):
            print(e["formattedMessage"], file=sys.stderr)
    if errors:
        raise SystemExit("compilation failed")
    digest = source_hash(sources)
    artifacts: dict[str, dict[str, object]] = {}
    for name, unit in TARGETS.items():
        c = out["contracts"][unit][name]
        artifacts[name] = {
            "contractName": name,
            "abi": c["abi"],
            "bytecode": "0x" + c["evm"]["bytecode"]["object"],
            "deployedBytecode": "0x" + c["evm"]["deployedBytecode"]["object"],
            "compiler": f"solc {SOLC_VERSION}",
            "sourceHash": digest,
        }
    return artifacts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify artifacts are current")
    args = parser.parse_args()
    if args.check:
        digest = source_hash()
        stale = [
            n
            for n in TARGETS
            if not (OUT_DIR / f"{n}.json").exists()
            or json.loads((OUT_DIR / f"{n}.json").read_text())["sourceHash"] != digest
        ]
        print("stale: " + ", ".join(stale) if stale else "artifacts are current")
        return 1 if stale else 0
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, art in compile_all().items():
        (OUT_DIR / f"{name}.json").write_text(json.dumps(art, indent=1) + "\n", encoding="utf-8")
        size = (len(str(art["deployedBytecode"])) - 2) // 2
        print(f"{name}: runtime {size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
