"""``morpheus-desktop --selftest``: does this installation work on this computer?

Runs the pieces a user relies on, from whatever was installed (the virtual environment or the
frozen bundle): the data folders, the bundled model in the engine's child process with a few
generated tokens, the main window opened and closed offscreen, the keyring. Prints one line per
check in plain words and exits 0 when everything needed works; a missing GPU or system keyring is
reported but is not a failure (the program works without them, as it says).

The window and the engine run on a throwaway data folder, so a self-test never touches the user's
wallet, settings or chats, and it can run while the program itself is open.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

OK, NOTE, FAIL = "ok", "note", "FAIL"
_TOKENS = 8


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # OK, NOTE (works, with something the user should know) or FAIL
    detail: str

    def line(self) -> str:
        return f"[{self.status:>4}] {self.name}: {self.detail}"


def check_install() -> Check:
    """Where the program runs from; whether it is the bundle or a Python environment."""
    frozen = bool(getattr(sys, "frozen", False))
    from app import __version__
    from app.paths import resources_dir

    where = Path(sys.executable).parent if frozen else Path(sys.prefix)
    kind = "installed bundle" if frozen else f"Python {sys.version.split()[0]} environment"
    res = resources_dir()
    missing = [p for p in ("contracts", "icons", "styles", "models") if not (res / p).is_dir()]
    if missing:
        return Check("program", FAIL, f"resources missing from {res}: {', '.join(missing)}")
    return Check("program", OK, f"Morpheus Desktop {__version__}, {kind} in {where}")


def check_data_dirs() -> Check:
    """The user's per-OS folders exist (or can be created) and accept writes."""
    from app.paths import app_paths

    try:
        paths = app_paths().ensure()
        with tempfile.NamedTemporaryFile(dir=paths.data, prefix=".selftest-", delete=True):
            pass
    except OSError as exc:
        return Check(
            "data folder",
            FAIL,
            f"cannot write to the data folder ({exc.strerror or exc}); set MORPHEUS_HOME to a "
            "folder you own",
        )
    return Check("data folder", OK, f"{paths.data} (settings in {paths.config})")


def check_keyring() -> Check:
    """Which keyring would keep the unlock secret; the file fallback is exercised for real on a
    scratch folder (never the user's keyring or data)."""
    from app.wallet.keyring_store import SERVICE, UnlockSecretStore, system_keyring

    try:
        backend = system_keyring()
    except Exception as exc:  # a broken keyring backend must not stop the program
        backend = None
        broken = f" (the system keyring failed: {exc})"
    else:
        broken = ""
    with tempfile.TemporaryDirectory(prefix="morpheus-selftest-") as scratch:
        # The encrypted-file fallback, on the scratch folder: never the system keyring.
        fallback = UnlockSecretStore(Path(scratch), Path(scratch))._fallback()
        fallback.set_password(SERVICE, "0xselftest", "not-a-secret")
        if fallback.get_password(SERVICE, "0xselftest") != "not-a-secret":
            return Check("keyring", FAIL, "the encrypted password file does not read back")
    if backend is None:
        return Check(
            "keyring",
            NOTE,
            "no system keyring" + broken + "; automatic unlock would keep the password in an "
            "encrypted file in the data folder (works, but weaker)",
        )
    return Check("keyring", OK, f"system keyring {type(backend).__name__}")


def check_modules() -> Check:
    """Every module of the program imports: a bundle that missed a library fails here, not when
    the user first clicks the page that needs it."""
    import importlib
    import pkgutil

    import app

    names = [m.name for m in pkgutil.walk_packages(app.__path__, "app.")]
    broken = []
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:
            broken.append(f"{name} ({type(exc).__name__}: {exc})")
    if broken:
        return Check("modules", FAIL, f"{len(broken)} do not import: " + "; ".join(broken[:3]))
    return Check("modules", OK, f"all {len(names)} modules of the program import")


def check_wallet() -> Check:
    """Wallet cryptography and the contract files: a throwaway key signs a MOR approve call."""
    from eth_account import Account
    from web3 import Web3

    from app.chain.artifacts import ARTIFACT_NAMES, load_artifact
    from app.wallet.hd import derive_account
    from app.wallet.mnemonic import generate_mnemonic

    for name in ARTIFACT_NAMES:
        load_artifact(name)
    from app.wallet.signer import LocalSigner

    account = derive_account(generate_mnemonic())
    LocalSigner(account.key).sign_raw_hash(b"\x01" * 32)  # coincurve (secp256k1) too
    token = Web3().eth.contract(abi=load_artifact("MorpheusToken").abi)
    data = token.encode_abi("approve", args=[account.address, 1])
    tx = {
        "to": account.address,
        "data": data,
        "value": 0,
        "gas": 60_000,
        "nonce": 0,
        "chainId": 8453,
        "maxFeePerGas": 10**9,
        "maxPriorityFeePerGas": 10**8,
    }
    signed = account.sign_transaction(tx)
    if Account.recover_transaction(signed.raw_transaction) != account.address:
        return Check("wallet", FAIL, "a signed transaction does not recover its signer")
    return Check("wallet", OK, f"keys, signing and {len(ARTIFACT_NAMES)} contract files work")


async def _generate(model: Path) -> tuple[str, str, str, str]:
    from app.inference.engine import LocalEngine
    from app.inference.types import (
        ChatMessage,
        ChatRequest,
        CompletionDone,
        SamplingParams,
        TokenDelta,
    )

    engine = LocalEngine(model, n_slots=1, n_ctx=512, name="selftest", load_timeout_s=120)
    await engine.start()
    try:
        info = engine.device_info()
        request = ChatRequest(
            messages=(ChatMessage("user", "Say hello."),),
            params=SamplingParams(max_tokens=_TOKENS, temperature=0.0, seed=1),
        )
        text, speed = "", ""
        async for event in engine.chat_stream(request):
            if isinstance(event, TokenDelta):
                text += event.text
            elif isinstance(event, CompletionDone):
                m = event.metrics
                speed = f"{m.completion_tokens} tokens at {m.tokens_per_s:.0f}/s"
        if info is None:
            return text, speed, "?", ""
        return text, speed, info.device, info.gpu_fallback_reason
    finally:
        await engine.stop()


def check_engine() -> list[Check]:
    """The bundled model loads in the engine's child process and writes a few tokens."""
    from app.inference.bundled import bundled_model_path

    model = bundled_model_path()
    if model is None:
        return [Check("engine", FAIL, "the bundled SmolLM2 model is not installed")]
    t0 = time.monotonic()
    try:
        text, speed, device, why_not_gpu = asyncio.run(_generate(model))
    except Exception as exc:
        detail = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        extra = getattr(exc, "detail", "")
        return [Check("engine", FAIL, f"{detail} {extra}".strip())]
    if not text.strip():
        return [Check("engine", FAIL, f"the model loaded on {device} but wrote nothing")]
    took = time.monotonic() - t0
    checks = [
        Check(
            "engine",
            OK,
            f"{model.name} wrote {text.strip()[:40]!r} ({speed}, {took:.1f} s with loading)",
        )
    ]
    if device == "GPU":
        checks.append(Check("GPU", OK, "the model runs on the graphics card"))
    else:
        checks.append(
            Check(
                "GPU",
                NOTE,
                f"the model runs on the CPU ({why_not_gpu or 'no usable GPU'}). Local models "
                "work, only slower; sharing a GPU needs a supported graphics card",
            )
        )
    return checks


def check_window() -> Check:
    """The main window opens offscreen, shows its first page, and closes."""
    from app.ui.selftest_window import open_and_close_main_window

    try:
        title, pages, ms = open_and_close_main_window()
    except Exception as exc:
        return Check("window", FAIL, f"the main window did not open: {exc}")
    return Check("window", OK, f"{title!r} with {pages} pages, first page in {ms:.0f} ms")


def run_checks(checks: Sequence[Callable[[], Check | list[Check]]]) -> list[Check]:
    results: list[Check] = []
    for fn in checks:
        try:
            got = fn()
        except Exception as exc:  # a check that crashes is a failed check, not a crash
            got = Check(fn.__name__.removeprefix("check_"), FAIL, f"{type(exc).__name__}: {exc}")
        for c in got if isinstance(got, list) else [got]:
            print(c.line(), flush=True)
            results.append(c)
    return results


def main(argv: Sequence[str] = ()) -> int:
    """Run every check; 0 when nothing failed."""
    from app.logsetup import setup_logging

    print("Morpheus Desktop self-test", flush=True)
    # The user's data folder is only looked at; the engine and window run on a scratch one.
    data_check = run_checks([check_install, check_data_dirs])
    scratch = tempfile.mkdtemp(prefix="morpheus-selftest-home-")
    saved = {k: os.environ.get(k) for k in ("MORPHEUS_HOME", "QT_QPA_PLATFORM")}
    os.environ["MORPHEUS_HOME"] = scratch
    if "--window" not in argv:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    try:
        setup_logging(verbose=False, console=False)
        rest = run_checks([check_modules, check_keyring, check_wallet, check_engine, check_window])
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        with contextlib.suppress(OSError):
            import shutil

            shutil.rmtree(scratch, ignore_errors=True)
    results = data_check + rest
    failed = [c.name for c in results if c.status == FAIL]
    if failed:
        print(f"selftest: FAILED ({', '.join(failed)})", flush=True)
        return 1
    notes = [c.name for c in results if c.status == NOTE]
    print(f"selftest: ok{' (notes: ' + ', '.join(notes) + ')' if notes else ''}", flush=True)
    return 0
