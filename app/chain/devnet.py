"""A local Morpheus chain: anvil plus our own Diamond, MOR token, Multicall3 and delegate registry.

Tests, the demo and `morpheus devnet up` all use it. The chain state lives in ``state.json``
(anvil's ``--state``), so a demo survives a restart; the addresses the program needs are written to
``network.json`` next to it in the shape ``app.chain.networks.load_network_file`` reads.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract

from app.chain.artifacts import load_artifact
from app.errors import UserFacingError
from app.fileio import atomic_write_text
from app.market.economics import DEPLOYED_POOLS
from app.paths import app_paths

log = logging.getLogger(__name__)

TEST_MNEMONIC = "test test test test test test test test test test test junk"
DEFAULT_CHAIN_ID = 31337
MULTICALL3_ADDRESS = "0xcA11bde05977b3631167028862bE2a173976CA11"
DELEGATE_REGISTRY_ADDRESS = "0x00000000000000447e69651d841bD8D104Bed493"

MOR = 10**18
#: Accounts 0..9 are the ordinary test accounts (ETH from anvil, MOR from us); account 0 also
#: deploys and owns the Diamond. Account 10 is the funding account that pays staked sessions.
FUNDED_ACCOUNTS = 10
FUNDING_ACCOUNT_INDEX = 10
TOTAL_ACCOUNTS = 11
MOR_PER_ACCOUNT = 10_000 * MOR
FUNDING_ACCOUNT_MOR = 10_000_000 * MOR

PROVIDER_MIN_STAKE = 2 * 10**17  # 0.2 MOR
MODEL_MIN_STAKE = 10**17  # 0.1 MOR
BID_FEE = 3 * 10**17  # 0.3 MOR
MIN_PRICE_PER_SECOND = 10**10
MAX_PRICE_PER_SECOND = 2 * 10**19
MAX_SESSION_DURATION = 7 * 86_400

STATE_FILE = "state.json"
NETWORK_FILE = "network.json"
PID_FILE = "anvil.pid"
LOG_FILE = "anvil.log"
_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 15.0


class DevnetError(UserFacingError):
    """The local devnet could not be started, reached or stopped."""


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent.parent


def anvil_binary() -> Path:
    """The native anvil from the pinned npm package; the ``.bin/anvil`` node wrapper is only a
    fallback, since it adds a node process between us and the signals that make anvil save state."""
    modules = repo_root() / "node_modules"
    native = sorted((modules / "@foundry-rs").glob("anvil-*/bin/anvil"))
    if native:
        return native[0]
    path = modules / ".bin" / "anvil"
    if not path.exists():
        raise DevnetError(
            "The local chain program (anvil) is not installed. Run `npm ci` in the program folder.",
            detail=str(path),
        )
    return path


def devnet_dir() -> Path:
    """Where `morpheus devnet` keeps its chain state and network file."""
    return app_paths().data / "devnet"


def network_file(state_dir: Path | None = None) -> Path:
    return (state_dir or devnet_dir()) / NETWORK_FILE


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _check_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            raise DevnetError(
                f"Port {port} is already in use on this computer. Choose another with --port "
                "(0 picks a free one), or stop the program using it.",
                detail=str(exc),
            ) from exc


@functools.cache
def dev_account(index: int) -> LocalAccount:
    """Test-mnemonic account ``index`` (m/44'/60'/0'/0/index), as anvil derives it."""
    Account.enable_unaudited_hdwallet_features()
    acct: LocalAccount = Account.from_mnemonic(
        TEST_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}"
    )
    return acct


@dataclass
class Devnet:
    """A running anvil with the Morpheus contracts deployed."""

    rpc_url: str
    network: dict[str, Any]
    state_dir: Path
    pid: int
    process: subprocess.Popen[bytes] | None = None
    deployed_now: bool = False  # False when the contracts came from a loaded state file
    _w3: Web3 | None = field(default=None, repr=False)

    @property
    def w3(self) -> Web3:
        if self._w3 is None:
            self._w3 = Web3(Web3.HTTPProvider(self.rpc_url, request_kwargs={"timeout": 30}))
        return self._w3

    @property
    def chain_id(self) -> int:
        return int(self.network["chainId"])

    @property
    def accounts(self) -> list[str]:
        """Checksummed addresses of the funded test accounts 0..9."""
        return [dev_account(i).address for i in range(FUNDED_ACCOUNTS)]

    def account(self, index: int) -> LocalAccount:
        return dev_account(index)

    def token(self) -> Contract:
        return self.w3.eth.contract(
            address=self.network["morToken"], abi=load_artifact("MorpheusToken").abi
        )

    def diamond(self) -> Contract:
        return self.w3.eth.contract(
            address=self.network["diamond"], abi=load_artifact("LumerinDiamond").abi
        )

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        resp = self.w3.provider.make_request(method, params or [])  # type: ignore[arg-type]
        if "error" in resp:
            raise DevnetError(f"The local chain refused {method}.", detail=str(resp["error"]))
        return resp.get("result")

    def time_travel(self, seconds: int) -> int:
        """Move chain time forward and mine a block; returns the new block timestamp."""
        self.rpc("evm_increaseTime", [int(seconds)])
        self.rpc("evm_mine", [])
        return self.timestamp()

    def set_next_timestamp(self, ts: int) -> None:
        """The next mined block (the next transaction, or ``mine()``) gets exactly ``ts``."""
        self.rpc("evm_setNextBlockTimestamp", [int(ts)])

    def mine(self) -> None:
        self.rpc("evm_mine", [])

    def timestamp(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def snapshot(self) -> str:
        return str(self.rpc("evm_snapshot", []))

    def revert(self, snapshot_id: str) -> None:
        if not self.rpc("evm_revert", [snapshot_id]):
            raise DevnetError("The local chain could not restore a snapshot.", detail=snapshot_id)

    def stop(self) -> None:
        """Stop anvil (it writes its state file on the way out)."""
        stop_pid(self.pid, self.process)
        self.process = None


# A detached anvil (``devnet up``) belongs to its pid file, but when this process started it the
# Popen is kept here: nothing garbage-collects a running child (a ResourceWarning), and ``devnet
# down`` from the same process reaps it instead of leaving a zombie.
_DETACHED: dict[int, subprocess.Popen[bytes]] = {}


def stop_pid(pid: int, process: subprocess.Popen[bytes] | None = None) -> None:
    process = process or _DETACHED.pop(pid, None)
    if process is not None:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=_STOP_TIMEOUT_S)
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + _STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _pid_alive(pid: int) -> bool:
    try:
        import psutil

        proc = psutil.Process(pid)
        return bool(proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE)
    except Exception:
        return False


def is_anvil_pid(pid: int) -> bool:
    """True when ``pid`` is a live anvil (a stale pid file may name another process)."""
    try:
        import psutil

        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and "anvil" in " ".join(proc.cmdline())
    except Exception:
        return False


def _wait_ready(w3: Web3, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    """Poll eth_chainId until anvil answers (anvil signals readiness no other way we can use)."""
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else ""
            raise DevnetError("The local chain stopped right after starting.", detail=tail)
        try:
            w3.eth.chain_id  # noqa: B018 - the request itself is the readiness probe
            return
        except Exception:
            time.sleep(0.05)
    proc.kill()
    raise DevnetError("The local chain did not start within 30 seconds.")


def start_devnet(
    state_dir: Path,
    port: int | None = None,
    *,
    chain_id: int = DEFAULT_CHAIN_ID,
    detach: bool = False,
) -> Devnet:
    """Start anvil on 127.0.0.1 with ``state_dir/state.json`` and deploy unless already deployed.

    ``detach`` starts anvil in its own session so it outlives this process (``devnet up``).
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    saved_chain_id = _saved_chain_id(state_dir)
    if saved_chain_id is not None and saved_chain_id != chain_id:
        raise DevnetError(
            f"The saved local chain has chain id {saved_chain_id}, not {chain_id}. "
            "Use the same chain id, or delete the devnet folder to start over.",
            detail=str(state_dir),
        )
    if port:
        _check_port_free(port)
    port = port or free_port()
    rpc_url = f"http://127.0.0.1:{port}"
    log_path = state_dir / LOG_FILE
    cmd = [
        str(anvil_binary()),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--mnemonic", TEST_MNEMONIC,
        "--chain-id", str(chain_id),
        "--accounts", str(TOTAL_ACCOUNTS),
        "--disable-code-size-limit",
        "--state", str(state_dir / STATE_FILE),
        "--state-interval", "60",
    ]
    with open(log_path, "ab") as log_fh:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=detach,
        )
    devnet = Devnet(rpc_url=rpc_url, network={}, state_dir=state_dir, pid=proc.pid, process=proc)
    try:
        _wait_ready(devnet.w3, proc, log_path)
        actual = devnet.w3.eth.chain_id
        if actual != chain_id:
            raise DevnetError(
                f"The saved local chain has chain id {actual}, not {chain_id}. "
                "Delete the devnet folder to start over.",
                detail=str(state_dir),
            )
        existing = _load_existing(devnet, chain_id)
        if existing is not None:
            devnet.network = existing
        else:
            devnet.network = _deploy(devnet, chain_id)
            devnet.deployed_now = True
        devnet.network["rpcUrls"] = [rpc_url]
        atomic_write_text(network_file(state_dir), json.dumps(devnet.network, indent=2) + "\n")
        if detach:
            atomic_write_text(state_dir / PID_FILE, f"{proc.pid}\n")
            _DETACHED[proc.pid] = proc
    except BaseException:
        devnet.stop()
        raise
    log.info("devnet on %s (pid %s, deployed now: %s)", rpc_url, proc.pid, devnet.deployed_now)
    return devnet


def _saved_chain_id(state_dir: Path) -> int | None:
    try:
        data = json.loads(network_file(state_dir).read_text(encoding="utf-8"))
        return int(data["chainId"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _load_existing(devnet: Devnet, chain_id: int) -> dict[str, Any] | None:
    """The previous network file, if the loaded chain state still has its contracts."""
    path = network_file(devnet.state_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or int(data.get("chainId", -1)) != chain_id:
        return None
    for key in ("diamond", "morToken", "multicall3"):
        addr = data.get(key)
        if not isinstance(addr, str) or not Web3.is_address(addr):
            return None
        if len(devnet.w3.eth.get_code(Web3.to_checksum_address(addr))) == 0:
            return None
    return data


def _send(w3: Web3, tx: Any, sender: str) -> Any:
    tx_hash = tx.transact({"from": sender})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    if receipt["status"] != 1:
        raise DevnetError("Setting up the local chain failed.", detail=f"tx {tx_hash.hex()}")
    return receipt


def _deploy(devnet: Devnet, chain_id: int) -> dict[str, Any]:
    w3 = devnet.w3
    owner = dev_account(0).address
    funding = dev_account(FUNDING_ACCOUNT_INDEX).address

    def deploy(name: str, *args: Any) -> ChecksumAddress:
        art = load_artifact(name)
        factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
        receipt = _send(w3, factory.constructor(*args), owner)
        return Web3.to_checksum_address(receipt["contractAddress"])

    for name, address in (
        ("Multicall3", MULTICALL3_ADDRESS),
        ("DelegateRegistry", DELEGATE_REGISTRY_ADDRESS),
    ):
        devnet.rpc("anvil_setCode", [address, load_artifact(name).deployed_bytecode])

    total_mor = FUNDED_ACCOUNTS * MOR_PER_ACCOUNT + FUNDING_ACCOUNT_MOR
    token_addr = deploy("MorpheusToken", total_mor)
    diamond_addr = deploy("LumerinDiamond")
    token = w3.eth.contract(address=token_addr, abi=load_artifact("MorpheusToken").abi)
    diamond = w3.eth.contract(address=diamond_addr, abi=load_artifact("LumerinDiamond").abi)
    fns = diamond.functions

    _send(w3, fns.__Delegation_init(DELEGATE_REGISTRY_ADDRESS), owner)
    _send(w3, fns.__ProviderRegistry_init(), owner)
    _send(w3, fns.__ModelRegistry_init(), owner)
    _send(w3, fns.__Marketplace_init(token_addr, MIN_PRICE_PER_SECOND, MAX_PRICE_PER_SECOND), owner)
    pools = [p.as_tuple() for p in DEPLOYED_POOLS]
    _send(w3, fns.__SessionRouter_init(funding, MAX_SESSION_DURATION, pools), owner)
    _send(w3, fns.providerSetMinStake(PROVIDER_MIN_STAKE), owner)
    _send(w3, fns.modelSetMinStake(MODEL_MIN_STAKE), owner)
    _send(w3, fns.setMarketplaceBidFee(BID_FEE), owner)

    for i in range(1, FUNDED_ACCOUNTS):
        _send(w3, token.functions.transfer(dev_account(i).address, MOR_PER_ACCOUNT), owner)
    _send(w3, token.functions.transfer(funding, FUNDING_ACCOUNT_MOR), owner)
    _send(w3, token.functions.approve(diamond_addr, 2**256 - 1), funding)

    return {
        "name": "devnet",
        "chainId": chain_id,
        "rpcUrls": [devnet.rpc_url],
        "morToken": token_addr,
        "diamond": diamond_addr,
        "multicall3": MULTICALL3_ADDRESS,
        "delegateRegistry": DELEGATE_REGISTRY_ADDRESS,
        "fundingAccount": funding,
        "owner": owner,
        "explorer": None,
    }


def read_pid_file(state_dir: Path) -> int | None:
    try:
        return int((state_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
