"""`morpheus devnet up|down|status`: a local Morpheus chain for trying things without real money."""

from __future__ import annotations

import argparse
import json
import threading
from pathlib import Path
from typing import Any

from app.chain.devnet import (
    DevnetError,
    devnet_dir,
    is_anvil_pid,
    network_file,
    read_pid_file,
    start_devnet,
    stop_pid,
)
from app.commands import help_when_bare


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "devnet",
        help="run a local Morpheus chain (anvil) with test accounts and MOR",
        description="A local chain with the Morpheus contracts, 10 test accounts holding ETH and "
        "10,000 MOR each, and a network file the program can connect to.",
    )
    p.add_argument("--dir", type=Path, default=None, help="devnet folder (default: data dir)")
    help_when_bare(p)
    devsub = p.add_subparsers(dest="devnet_command", metavar="ACTION")

    up = devsub.add_parser(
        "up",
        help="start the devnet in the background (deploys contracts on first start)",
        description="Start anvil on 127.0.0.1, deploy the contracts if the saved chain lacks them, "
        "and write network.json. Chain state persists across restarts.",
    )
    up.add_argument("--port", type=int, default=8545, help="RPC port (default 8545; 0 = any)")
    up.add_argument(
        "--foreground", action="store_true", help="stay attached; Ctrl-C stops the chain"
    )
    up.set_defaults(handler=_up)

    down = devsub.add_parser("down", help="stop the devnet (its state is kept)")
    down.set_defaults(handler=_down)

    status = devsub.add_parser("status", help="show whether the devnet runs, and its addresses")
    status.set_defaults(handler=_status)


def _dir(args: argparse.Namespace) -> Path:
    return Path(args.dir) if args.dir else devnet_dir()


def _up(args: argparse.Namespace) -> int:
    state_dir = _dir(args)
    pid = read_pid_file(state_dir)
    if pid is not None and is_anvil_pid(pid):
        raise DevnetError(
            f"The devnet is already running (process {pid}). Stop it with `morpheus devnet down`."
        )
    devnet = start_devnet(state_dir, args.port or None, detach=not args.foreground)
    net = devnet.network
    print(f"devnet running at {devnet.rpc_url} (chain id {net['chainId']})")
    print(f"  MOR token:       {net['morToken']}")
    print(f"  Diamond:         {net['diamond']}")
    print(f"  Multicall3:      {net['multicall3']}")
    print(f"  funding account: {net['fundingAccount']}")
    print(f"  network file:    {network_file(state_dir)}")
    print("  " + ("contracts deployed" if devnet.deployed_now else "contracts loaded from state"))
    if not args.foreground:
        print(f"  pid {devnet.pid}; stop with `morpheus devnet down`")
        return 0
    print("Press Ctrl-C to stop.")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        devnet.stop()
        print("devnet stopped")
    return 0


def _down(args: argparse.Namespace) -> int:
    state_dir = _dir(args)
    pid = read_pid_file(state_dir)
    if pid is None or not is_anvil_pid(pid):
        (state_dir / "anvil.pid").unlink(missing_ok=True)
        print("devnet is not running")
        return 0
    stop_pid(pid)
    (state_dir / "anvil.pid").unlink(missing_ok=True)
    print(f"devnet stopped (process {pid}); state kept in {state_dir}")
    return 0


def _status(args: argparse.Namespace) -> int:
    state_dir = _dir(args)
    pid = read_pid_file(state_dir)
    running = pid is not None and is_anvil_pid(pid)
    try:
        net = json.loads(network_file(state_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        net = None
    print(f"devnet: {'running (process ' + str(pid) + ')' if running else 'stopped'}")
    if net is None:
        print("  not set up yet: run `morpheus devnet up`")
        return 0 if running else 3
    print(f"  rpc: {', '.join(net.get('rpcUrls', []))}  chain id {net.get('chainId')}")
    print(f"  MOR token {net.get('morToken')}  Diamond {net.get('diamond')}")
    return 0 if running else 3
