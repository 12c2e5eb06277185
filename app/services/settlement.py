"""What the chain says a consumer's transaction did (a session opened, MOR sent back), and the
clock check that keeps an honest close from turning into a dispute."""

from __future__ import annotations

from typing import Any

from app.chain import abi
from app.chain.tx import TxReceipt
from app.errors import UserFacingError
from app.market.types import id_hex


class ClockOff(UserFacingError):
    """The provider refused to sign the close because this computer's clock is off."""


CLOCK_WARN_S = 120


def clock_skew_text(local: float, chain_now: int, network_key: str) -> str:
    """" (about N minutes off from the network)" on real networks; "" on the devnet, whose
    chain time may have been moved on purpose."""
    skew = local - chain_now
    if network_key == "devnet" or abs(skew) < CLOCK_WARN_S:
        return ""
    where = "ahead of" if skew > 0 else "behind"
    return f" (about {abs(skew) / 60:.0f} minutes {where} the network)"


def opened_session(r: TxReceipt) -> str | None:
    """The session id a mined openSession receipt created, if it is one."""
    if r.status != 1:
        return None
    for entry in r.logs:
        topics = entry.get("topics") or []
        if len(topics) >= 3 and topics[0] == abi.SESSION_OPENED:
            return id_hex(topics[2])
    return None


def transfers_to(logs: Any, token: str, sender: str, recipient: str) -> int:
    """Sum of MOR ``Transfer(sender → recipient)`` in a receipt: what the user really got back."""
    total = 0
    want_from = "0x" + "0" * 24 + sender.lower()[2:]
    want_to = "0x" + "0" * 24 + recipient.lower()[2:]
    for entry in logs:
        topics = [t.lower() if isinstance(t, str) else "0x" + bytes(t).hex() for t in
                  entry.get("topics") or []]
        if (
            len(topics) == 3 and topics[0] == abi.ERC20_TRANSFER.lower()
            and entry.get("address", "").lower() == token.lower()
            and topics[1] == want_from and topics[2] == want_to
        ):
            data = entry.get("data") or "0x0"
            total += int(data if isinstance(data, str) else "0x" + bytes(data).hex(), 16)
    return total


async def simulate_with_allowance(chain: Any, sender: str, data: bytes, amount: int) -> None:
    """Simulate a Diamond write that pulls ``amount`` MOR as if the approve were already mined,
    so a revert is known before the approve is sent (and its gas spent for nothing). Nodes
    without state overrides skip this; the write is then simulated after the approve as before."""
    if amount <= 0:
        return
    tx = chain.tx
    override = await tx.allowance_override(chain.token, sender, chain.diamond, amount)
    if override is not None:
        await tx.simulate(sender, chain.diamond, data, state_override=override)
