"""The "Before you start" checklist of Share my GPU: wallet, gas, MOR for the stakes and fee,
price, model, benchmark, device and reachability, each with a plain detail, read before anything
is sent (the GUI page and the tests drive the same code)."""

from __future__ import annotations

from typing import Any, Protocol

from app.chain.client import ChainClient
from app.errors import UserFacingError
from app.services.provider_plan import (
    GAS_PER_SETUP_TX,
    SETUP_TXS,
    CheckItem,
    CheckStatus,
    ProviderPlan,
)
from app.services.provider_reach import ReachPlan, reach_detail
from app.wallet.units import format_amount


class Checked(Protocol):
    """What of ``ProviderService`` the checklist reads."""

    @property
    def chain(self) -> ChainClient: ...

    @property
    def engine(self) -> Any: ...

    @property
    def me(self) -> str: ...

    @property
    def port(self) -> int | None: ...

    @property
    def model_name(self) -> str: ...

    async def plan(self, price_per_second: int | None = None) -> ProviderPlan: ...

    async def benchmark(self, max_tokens: int = 32) -> float: ...

    def reach_plan(self) -> ReachPlan: ...


async def run_checklist(self: Checked, price_per_second: int | None) -> list[CheckItem]:
    items = [CheckItem("wallet", "Wallet unlocked", CheckStatus.OK, self.me)]
    eth = await self.chain.eth_balance(self.me)
    _, max_fee = await self.chain.tx.fees()
    gas_needed = GAS_PER_SETUP_TX * SETUP_TXS * max_fee
    items.append(CheckItem(
        "gas", "ETH for gas",
        CheckStatus.OK if eth >= gas_needed else CheckStatus.FAIL,
        f"{eth / 1e18:.6f} ETH" if eth >= gas_needed
        else f"{(gas_needed - eth) / 1e18:.6f} ETH missing for the setup transactions",
    ))
    try:
        plan = await self.plan(price_per_second)
        mor = await self.chain.mor_balance(self.me)
        ok = mor >= plan.mor_needed
        items.append(CheckItem(
            "mor", "MOR for provider stake and bid fee",
            CheckStatus.OK if ok else CheckStatus.FAIL,
            f"needs {plan.mor_needed / 1e18:.4f} MOR"
            f" (stake {plan.provider_stake_to_add / 1e18:g}"
            f" + model {plan.model_stake_to_add / 1e18:g} + fee {plan.bid_fee / 1e18:g})"
            + ("" if ok else f"; {(plan.mor_needed - mor) / 1e18:.4f} MOR missing"),
        ))
        per_hour = format_amount(plan.price_per_second * 3600, 18, 6)
        items.append(CheckItem(
            "price", "Price", CheckStatus.OK,
            f"{per_hour} MOR/hour ({plan.price_per_second} wei/s); "
            + await market_range(self),
        ))
    except UserFacingError as exc:
        items.append(CheckItem("mor", "MOR for provider stake and bid fee", CheckStatus.FAIL,
                               exc.message))
    try:
        names = await self.engine.model_names()
        items.append(CheckItem("model", "Model ready", CheckStatus.OK, ", ".join(names)))
        tps = await self.benchmark()
        items.append(CheckItem("bench", "Engine benchmarked", CheckStatus.OK,
                               f"{tps:.1f} tokens/s"))
        device = getattr(self.engine, "device_summary", None)
        if callable(device) and device():
            items.append(CheckItem("device", "Runs on", CheckStatus.OK, str(device())))
    except UserFacingError as exc:
        items.append(CheckItem("model", "Model ready", CheckStatus.FAIL, exc.message))
    status, text = reach_detail(self.reach_plan(), self.port or 3333,
                                self.chain.network.key)
    items.append(CheckItem("reach", "Reachable by other people", CheckStatus(status), text))
    return items



async def market_range(svc: Checked) -> str:
    """What other providers ask for a model of the same name, per hour (the market's range)."""
    market = await svc.chain.load_market()
    names = {m.id: m.name for m in market.models}
    prices = sorted(b.price_per_second for b in market.bids
                    if names.get(b.model_id) == svc.model_name and b.provider != svc.me)
    if not prices:
        return "nobody else offers this model right now"
    lo, hi = (format_amount(p * 3600, 18, 6) for p in (prices[0], prices[-1]))
    n = len(prices)
    return (f"{n} other offer{'s' if n != 1 else ''} for this model: {lo}"
            + (f" to {hi}" if hi != lo else "") + " MOR/hour")
