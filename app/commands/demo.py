"""`morpheus demo`: the whole network on this computer in one command.

Starts the local devnet (or reuses it), a provider node with a second wallet serving the bundled
SmolLM2, and opens the GUI as a consumer with a funded wallet, so a newcomer can open a session and
chat with a "remote" model at once. Everything lives under a separate demo home, so the demo never
touches a real wallet.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from app.paths import AppPaths, app_paths

DEMO_PASSWORD = "morpheus-demo-wallet"  # a devnet-only test key; never holds real funds
PROVIDER_ACCOUNT = 1
CONSUMER_ACCOUNT = 2


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "demo", help="devnet + a provider serving SmolLM2 + the GUI as a funded consumer"
    )
    p.add_argument("--no-gui", action="store_true",
                   help="set everything up and keep serving, without opening the window")
    p.add_argument("--home", type=Path, help="demo folder (default: <data dir>/demo)")
    p.add_argument("--keep-chain", action="store_true",
                   help="leave the local chain running afterwards (it is stopped by default "
                   "when this demo started it)")
    p.set_defaults(handler=_demo)


def _paths(root: Path) -> AppPaths:
    return AppPaths(root / "config", root / "data", root / "logs", root / "cache").ensure()


def _prepare_consumer(home: Path, network: dict[str, Any]) -> None:
    """A funded consumer wallet (devnet test account) that unlocks automatically.

    Its password goes to an encrypted file in the demo folder, never to the OS keyring, and the
    test key it uses signs on the devnet only (``app.wallet.known_keys``).
    """
    from app.chain.devnet import dev_account
    from app.services.wallet_service import WalletService
    from app.storage.settings import SettingsStore
    from app.wallet.keyring_store import UnlockSecretStore

    paths = _paths(home)
    (paths.data / "devnet").mkdir(parents=True, exist_ok=True)
    (paths.data / "devnet" / "network.json").write_text(json.dumps(network))
    secrets = UnlockSecretStore(paths.wallet, paths.config)
    secrets.use_file_only()
    wallet = WalletService(paths, secrets=secrets)
    if not wallet.exists():
        key = "0x" + bytes(dev_account(CONSUMER_ACCOUNT).key).hex()
        wallet.import_private_key(key, DEMO_PASSWORD, remember=True)
    store = SettingsStore.open(paths.settings_file)
    store.update(network="devnet")


def _demo(args: argparse.Namespace) -> int:
    from app.chain.devnet import is_anvil_pid, read_pid_file, start_devnet, stop_pid

    root = args.home or (app_paths().data / "demo")
    root.mkdir(parents=True, exist_ok=True)
    chain_dir = root / "devnet"
    pid = read_pid_file(chain_dir)
    started_chain: int | None = None  # stopped on the way out: nothing is left running
    if pid is None or not is_anvil_pid(pid):
        print("Starting the local chain ...", flush=True)
        started_chain = start_devnet(chain_dir, None, detach=True).pid
    try:
        return _run_demo(args, root, chain_dir)
    finally:
        if started_chain is not None and not args.keep_chain:
            print("Stopping the local chain ...", flush=True)
            stop_pid(started_chain)


def _run_demo(args: argparse.Namespace, root: Path, chain_dir: Path) -> int:
    network = json.loads((chain_dir / "network.json").read_text())

    provider_home = root / "provider"
    consumer_home = root / "consumer"
    ppaths = _paths(provider_home)
    (ppaths.data / "devnet").mkdir(parents=True, exist_ok=True)
    (ppaths.data / "devnet" / "network.json").write_text(json.dumps(network))
    _prepare_consumer(consumer_home, network)

    print("Starting a provider node serving SmolLM2 ...", flush=True)
    log_path = root / "provider.log"
    env = {**os.environ, "MORPHEUS_HOME": str(provider_home)}
    with open(log_path, "wb") as log_file:
        provider = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "provider", "serve", "--network", "devnet",
             "--dev-account", str(PROVIDER_ACCOUNT), "--port", "0", "--slots", "4"],
            env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 180
        while "Serving" not in log_path.read_text(errors="replace"):
            if provider.poll() is not None or time.monotonic() > deadline:
                print(log_path.read_text(errors="replace")[-3000:], file=sys.stderr)
                print("error: the provider node did not start", file=sys.stderr)
                return 1
            time.sleep(0.2)
        print(log_path.read_text(errors="replace").strip(), flush=True)
        print(f"\nConsumer wallet: devnet account {CONSUMER_ACCOUNT} (funded with MOR and ETH), "
              "unlocked automatically.")
        print("In the window: Chat → pick the network model → Open session → type a message.\n",
              flush=True)
        if args.no_gui:
            provider.wait()
            return 0
        os.environ["MORPHEUS_HOME"] = str(consumer_home)
        from app.ui.launch import run_gui

        return run_gui([sys.argv[0]])
    except KeyboardInterrupt:
        return 130
    finally:
        provider.send_signal(signal.SIGINT)  # lets the node delete its bid before exiting
        try:
            provider.wait(timeout=30)
        except subprocess.TimeoutExpired:
            provider.kill()
