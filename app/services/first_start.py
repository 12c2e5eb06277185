"""Whether this start is a first start: the welcome steps show until the user finished or skipped
them, or a wallet exists.

Apart from :mod:`app.services.onboarding` (the steps themselves) because every launch asks this
before its first paint, and that module's imports (random, the wallet errors) are not needed for
the answer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Remembered in the settings file's free-form part (``Settings.extra``) once the user finished
# or skipped the welcome steps.
WELCOME_DONE = "welcome_done"


def wallet_present(wallet_dir: Path) -> bool:
    """A wallet file (or the kept-aside copy of a damaged one) is in ``wallet_dir``.

    There is one wallet per data folder, whatever the network, so this answers "a wallet on any
    network"."""
    if (wallet_dir / "wallet.json").exists():
        return True
    return any(wallet_dir.glob("wallet.json.damaged-*"))


def needs_welcome(settings: Any, wallet_dir: Path) -> bool:
    """Show the welcome steps: no wallet here and the user never finished or skipped them."""
    extra = getattr(settings, "extra", {}) or {}
    return not extra.get(WELCOME_DONE) and not wallet_present(wallet_dir)


def mark_welcome_done(store: Any) -> None:
    """Remember (in the settings file) that the welcome steps are finished or skipped."""
    if store.settings.extra.get(WELCOME_DONE):
        return
    store.settings.extra[WELCOME_DONE] = True
    store.save()
