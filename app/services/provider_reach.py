"""How people reach a provider: the checks and the port mapping done before anything is paid.

Why a module of its own: every rule here runs before the first transaction of "go online" (a
registration with an endpoint nobody can dial costs the bid fee and locks the stakes for
nothing), and the same rules serve the checklist, the Share page and ``provider serve``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from app.errors import UserFacingError
from app.p2p.endpoints import (
    DEVNET_KEY,
    EndpointError,
    check_publishable,
    is_loopback_host,
    lan_address,
    local_addresses,
)
from app.p2p.portmap import DEFAULT_LEASE_S, PortMapping, map_port, unmap_port

log = logging.getLogger(__name__)
RENEW_EVERY_S = DEFAULT_LEASE_S / 2


@dataclass
class ReachPlan:
    """What the user chose: where to listen, what to publish, whether to map the router's port."""

    host: str = "127.0.0.1"
    public_endpoint: str | None = None
    upnp: bool = False
    listen_consent: bool = False  # the user agreed to accept connections from other computers
    mapping: PortMapping | None = None
    network_key: str = ""
    _renewal: asyncio.Task[None] | None = field(default=None, repr=False)

    def check_before_listening(self, network_key: str) -> None:
        """Refuse what can be refused before the node even starts."""
        if not is_loopback_host(self.host) and not self.listen_consent:
            raise EndpointError(
                f"Listening on {self.host} lets other computers connect to this one. Confirm "
                "that first (the Share page asks; `provider serve` takes --host as your yes).")
        if self.upnp and is_loopback_host(self.host):
            raise EndpointError(
                "A router can only forward its port to this computer's network address, not "
                "to 127.0.0.1. Listen on it with --host 0.0.0.0 (or the LAN address) when "
                "using --upnp.")
        if self.public_endpoint:
            check_publishable(self.public_endpoint, network_key)
        elif not self.upnp and network_key != DEVNET_KEY and is_loopback_host(self.host):
            raise EndpointError(
                f"Nobody else can reach {self.host}: give the public address or DNS name "
                "others dial (--public-endpoint, or the field on the Share page), or let the "
                "app open the port on your router (--upnp).")

    async def endpoint_to_publish(self, listening: str, port: int, network_key: str) -> str:
        """The endpoint registered on chain, once the node listens on ``port``: the one given,
        else the router's mapping, else the listen address (devnet only)."""
        self.network_key = network_key
        if self.upnp and self.mapping is None:
            lan = self.host if not self.host.startswith("0.") and ":" not in self.host \
                and not is_loopback_host(self.host) else lan_address()
            if lan is None:
                raise EndpointError("This computer has no network address to forward a port to.")
            self.mapping = await map_port(lan, port)
        endpoint = self.public_endpoint or (self.mapping.endpoint if self.mapping else listening)
        return str(check_publishable(endpoint, network_key))

    async def renew(self) -> str | None:
        """Renew the router's mapping (its lease runs out) and return the new public endpoint
        when the router's public address changed (None when it did not)."""
        old = self.mapping
        if old is None or self.public_endpoint:
            return None
        upnp = old.method == "UPnP"
        if upnp:  # routers refuse to add a mapping that exists (718): take it down first
            await unmap_port(old)
        self.mapping = await map_port(
            old.internal_ip, old.internal_port, external_port=old.external_port,
            location=old.gateway if upnp else None, gateway=None if upnp else old.gateway)
        new = self.mapping.endpoint
        if new == old.endpoint:
            return None
        return str(check_publishable(new, self.network_key or DEVNET_KEY))

    def start_renewal(self, publish: Callable[[str], Awaitable[None]],
                      every: float = RENEW_EVERY_S) -> None:
        """Keep the mapping alive while online; a changed public address is published again
        (``providerRegister`` with no new stake only updates the endpoint, spec §2.3)."""
        async def loop() -> None:
            while True:
                await asyncio.sleep(every)
                try:
                    new = await self.renew()
                    if new is not None:
                        await publish(new)
                except asyncio.CancelledError:
                    raise
                except UserFacingError as exc:
                    log.warning("port mapping renewal: %s", exc.message)
                except Exception as exc:  # the router rebooting must not stop serving
                    log.warning("port mapping renewal: %s: %s", type(exc).__name__, exc)

        if self.mapping is not None and self._renewal is None:
            self._renewal = asyncio.ensure_future(loop())

    async def release(self) -> None:
        if self._renewal is not None:
            self._renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewal
            self._renewal = None
        if self.mapping is not None:
            await unmap_port(self.mapping)
            self.mapping = None


def reach_detail(plan: ReachPlan, port: int, network_key: str) -> tuple[str, str]:
    """("ok" | "warn" | "fail", text) for the checklist: what is published, or plainly why
    nobody can reach it."""
    endpoint = plan.public_endpoint or f"{plan.host}:{port}"
    addrs = ", ".join(f"{a.ip} ({a.label})" for a in local_addresses())
    try:
        if plan.upnp and not plan.public_endpoint:
            plan.check_before_listening(network_key)
            return "ok", (f"The port is opened on your router with UPnP or NAT-PMP when you go "
                          f"online. This computer: {addrs}.")
        ep = check_publishable(endpoint, network_key)
    except EndpointError as exc:
        return "fail", f"{exc.message} This computer: {addrs}."
    if network_key == DEVNET_KEY and (ep.ip is None or ep.ip.is_loopback):
        return "warn", (f"{ep} is only reachable from this computer (fine on the local devnet). "
                        "To serve the network, listen on 0.0.0.0, forward the port on your "
                        "router (or let the app map it with UPnP), and publish your public "
                        f"address. This computer: {addrs}.")
    return "ok", (f"{ep} is published. That it is reachable from the internet can only be "
                  "proven by someone outside your network dialling it.")
