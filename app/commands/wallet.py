"""`morpheus wallet create|import|show|export|balance|send`: the wallet, headless.

Secrets never go on the command line (where shell history and `ps` would see them): passwords come
from a prompt or from MORPHEUS_WALLET_PASSWORD (for scripts), recovery phrases and keys from a
prompt or a file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from app.commands import help_when_bare
from app.fileio import atomic_write_text
from app.logsetup import register_secret
from app.paths import app_paths
from app.services.wallet_service import WalletService
from app.wallet.errors import WalletError
from app.wallet.units import format_amount

PASSWORD_ENV = "MORPHEUS_WALLET_PASSWORD"
NEW_PASSWORD_ENV = "MORPHEUS_WALLET_NEW_PASSWORD"
KEYSTORE_PASSWORD_ENV = "MORPHEUS_KEYSTORE_PASSWORD"
# app.storage.settings and app.chain.networks name two networks differently.
_NETWORK_ALIASES = {"base-mainnet": "base", "arbitrum-one": "arbitrum"}


def _password(prompt: str, env: str = PASSWORD_ENV, *, confirm: bool = False) -> str:
    value = os.environ.get(env)
    if value is None:
        if not sys.stdin.isatty():
            raise WalletError(f"No password: set {env} or run this command in a terminal.")
        value = getpass.getpass(prompt)
        if confirm and getpass.getpass("Same password again: ") != value:
            raise WalletError("The two passwords are not the same.")
    register_secret(value)
    return value


def _secret_input(prompt: str, file: str | None) -> str:
    if file:
        text = Path(file).read_text(encoding="utf-8") if file != "-" else sys.stdin.read()
    else:
        text = getpass.getpass(prompt)
    text = text.strip()
    register_secret(text)
    return text


def _service(chain: Any = None) -> WalletService:
    svc = WalletService(app_paths().ensure(), chain=chain)
    with contextlib.suppress(WalletError):
        svc.load()  # checks the files' permissions; problems surface in the command itself
    while (notice := svc.take_notice()) is not None:
        print(f"Note: {notice}", file=sys.stderr)
    return svc


def _report_remember(kind: Any) -> None:
    if kind is not None:
        print(f"Automatic unlock: password saved in the {kind.description}.")
        if kind.notice:
            print(f"Note: {kind.notice}")


# ----- create / import / show / export ------------------------------------------------------
def cmd_create(args: argparse.Namespace) -> int:
    from app.wallet.mnemonic import generate_mnemonic

    svc = _service()
    svc.refuse_overwrite()  # names a damaged wallet as such and points to restoring it
    password = _password("New wallet password: ", confirm=True)
    phrase = generate_mnemonic(args.words)
    register_secret(phrase)
    kind = svc.create_from_mnemonic(phrase, password, remember=args.remember)
    print("Your Secret Recovery Phrase. Write it down on paper and keep it safe; it is shown")
    print("only now, and anyone who has it can take everything in this wallet:\n")
    words = phrase.split()
    for i in range(0, len(words), 4):
        print("   " + "  ".join(f"{j + 1:>2}. {w:<10}" for j, w in enumerate(words[i : i + 4], i)))
    print(f"\nAddress: {svc.address}")
    _report_remember(kind)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    svc = _service()
    svc.refuse_overwrite(restore=True)  # importing a backup may replace a damaged file
    if args.source == "mnemonic":
        phrase = _secret_input("Recovery phrase (input hidden): ", args.file)
        from app.wallet.mnemonic import validate_mnemonic

        validate_mnemonic(phrase)
        password = _password("New wallet password: ", confirm=True)
        kind = svc.create_from_mnemonic(
            phrase, password, account_index=args.account, remember=args.remember, restore=True
        )
    elif args.source == "key":
        key = _secret_input("Private key (input hidden): ", args.file)
        from app.wallet.signer import parse_private_key

        parse_private_key(key)
        password = _password("New wallet password: ", confirm=True)
        kind = svc.import_private_key(key, password, remember=args.remember, restore=True)
    else:
        if not args.file:
            raise WalletError("Give the keystore file with --file PATH.")
        text = Path(args.file).read_bytes()
        ks_pw = _password("Keystore password: ", KEYSTORE_PASSWORD_ENV)
        new_pw = os.environ.get(PASSWORD_ENV) or ks_pw
        register_secret(new_pw)
        kind = svc.import_keystore(text, ks_pw, new_pw, remember=args.remember, restore=True)
    print(f"Imported. Address: {svc.address}")
    _report_remember(kind)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    svc = _service()
    wf = svc.load()
    info: dict[str, Any] = {
        "address": wf.address,
        "kind": "recovery phrase" if wf.kind == "hd" else "single key",
        "account": wf.account_index + 1 if wf.kind == "hd" else None,
        "auto_unlock": svc.remember_state(),
        "file": str(svc.wallet_file),
    }
    if args.accounts:
        info["accounts"] = wf.accounts
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for k, v in info.items():
        if k == "accounts":
            print("accounts:")
            for i, a in enumerate(v):
                print(f"  {'*' if i == wf.account_index else ' '} {i + 1:>2}. {a}")
        elif v is not None:
            print(f"{k}: {v}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    svc = _service()
    password = _password("Wallet password: ")
    ks = svc.export_keystore(password)
    out = Path(args.out)
    if out.exists() and not args.force:
        raise WalletError(f"{out} already exists; choose another name or add --force.")
    atomic_write_text(out, json.dumps(ks), mode=0o600)
    print(f"Keystore for {svc.address} written to {out} (encrypted with your wallet password).")
    return 0


# ----- chain commands -----------------------------------------------------------------------
async def _chain(args: argparse.Namespace) -> Any:
    if args.rpc:
        if not args.mor_token:
            raise WalletError("With --rpc, also give the MOR token address with --mor-token.")
        from app.services.wallet_chain import wallet_chain_at

        return await wallet_chain_at(args.rpc, args.mor_token)
    from app.chain.devnet import network_file
    from app.chain.networks import get_network

    key = args.network
    urls: list[str] | None = None
    if key is None:
        from app.storage.settings import SettingsStore

        settings = SettingsStore.open(app_paths().settings_file).settings
        key, urls = settings.network, settings.custom_rpc_urls or None
    net = get_network(_NETWORK_ALIASES.get(key, key), devnet_file=network_file(), rpc_urls=urls)
    # The program's own chain client: RPC failover, and the same transaction manager (one nonce
    # manager per account) as every other write.
    from app.chain.client import ChainClient
    from app.services.wallet_chain import ClientWalletChain

    return ClientWalletChain(await ChainClient.connected(net))


async def cmd_balance(args: argparse.Namespace) -> int:
    chain = await _chain(args)
    try:
        return await _balance(args, _service(chain))
    finally:
        await chain.close()


async def _balance(args: argparse.Namespace, svc: WalletService) -> int:
    if args.address is None and not svc.exists():
        raise WalletError("There is no wallet yet; give an address with --address.")
    addr = args.address or svc.require_address()  # a damaged file says so
    b = await svc.balances(addr)
    print(f"address: {addr}")
    print(f"MOR: {format_amount(b.mor, b.mor_decimals)}")
    print(f"ETH: {format_amount(b.eth)}")
    return 0


async def cmd_send(args: argparse.Namespace) -> int:
    chain = await _chain(args)
    try:
        return await _send(args, _service(chain))
    finally:
        await chain.close()


async def _send(args: argparse.Namespace, svc: WalletService) -> int:
    preview = await svc.prepare_send(args.asset, args.to, args.amount)
    d = preview.decimals
    print(f"Send {format_amount(preview.amount, d)} {args.asset} to {preview.to}")
    print(f"Network fee: up to {format_amount(preview.fee.max_cost)} ETH")
    print(f"{args.asset} after: {format_amount(max(preview.asset_after, 0), d)}")
    warning = preview.gas_warning()
    if warning:
        raise WalletError(warning + " Nothing was sent.")
    if not args.yes:
        if not sys.stdin.isatty():
            raise WalletError("Add --yes to send without a confirmation prompt.")
        if input("Send? [y/N] ").strip().lower() not in ("y", "yes"):
            print("Nothing was sent.")
            return 1
    await asyncio.to_thread(svc.unlock, _password("Wallet password: "))
    rec = await svc.send(preview)
    print(f"Sent: {rec.tx_hash}")
    url = svc.explorer_tx_url(rec.tx_hash)
    if url:
        print(url)
    if args.wait:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + args.wait
        status = "pending"
        while status == "pending" and loop.time() < deadline:
            status = await svc._chain().transaction_status(rec.tx_hash)
            if status == "pending":
                await asyncio.sleep(1)  # polling the node is the only way to learn of a block
        await svc.refresh_pending()
        print(f"Status: {status}")
        return 0 if status == "confirmed" else 1
    return 0


def _chain_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--network", help="network key (default: the one chosen in settings)")
    p.add_argument("--rpc", help="JSON-RPC URL to use instead of the network's")
    p.add_argument("--mor-token", help="MOR token address (with --rpc)")


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "wallet",
        help="create, import, inspect and use the wallet",
        description="The wallet. Passwords are read from a hidden prompt, or from "
        f"{PASSWORD_ENV} in scripts.",
    )
    ws = p.add_subparsers(dest="wallet_command", metavar="ACTION")
    help_when_bare(p)

    c = ws.add_parser("create", help="create a new wallet and show its recovery phrase")
    c.add_argument("--words", type=int, choices=(12, 24), default=12)
    c.add_argument("--remember", action="store_true", help="unlock automatically on this computer")
    c.set_defaults(handler=cmd_create)

    i = ws.add_parser("import", help="import a recovery phrase, a private key or a keystore")
    i.add_argument("source", choices=("mnemonic", "key", "keystore"))
    i.add_argument("--file", help="read the phrase/key/keystore from this file ('-' = stdin)")
    i.add_argument("--account", type=int, default=0, help="account index for a phrase (0-based)")
    i.add_argument("--remember", action="store_true", help="unlock automatically on this computer")
    i.set_defaults(handler=cmd_import)

    s = ws.add_parser("show", help="show the address and wallet details (no password needed)")
    s.add_argument("--accounts", action="store_true", help="list the first ten accounts")
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=cmd_show)

    e = ws.add_parser("export", help="write the key as a V3 keystore file (MetaMask/geth)")
    e.add_argument("out", help="file to write")
    e.add_argument("--force", action="store_true", help="overwrite an existing file")
    e.set_defaults(handler=cmd_export)

    b = ws.add_parser("balance", help="show the ETH and MOR balances")
    b.add_argument("--address", help="another address to look up")
    _chain_options(b)
    b.set_defaults(handler=cmd_balance)

    sd = ws.add_parser("send", help="send ETH or MOR")
    sd.add_argument("--to", required=True)
    sd.add_argument("--amount", required=True, help="in whole tokens, e.g. 1.5")
    sd.add_argument("--asset", choices=("MOR", "ETH"), default="MOR")
    sd.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    sd.add_argument("--wait", type=float, default=0, help="wait up to N seconds for confirmation")
    _chain_options(sd)
    sd.set_defaults(handler=cmd_send)
