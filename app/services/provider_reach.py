"""How people reach a provider: the checks and the port mapping done before anything is paid.

Why a module of its own: every rule here runs before the first transaction of "go online" (a
registration with an endpoint nobody can dial costs the bid fee and locks the stakes for
nothing), and the same rules serve the checklist, the Share page and ``provider serve``.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.p2p.endpoints import (
    DEVNET_KEY,
    EndpointError,
    check_publishable,
    is_loopback_host,
    lan_address,
    local_addresses,
)
from app.p2p.portmap import PortMapping, map_port, unmap_port


@dataclass
class ReachPlan:
    """What the user chose: where to listen, what to publish, whether to map the router's port."""

    host: str = "127.0.0.1"
    public_endpoint: str | None = None
    upnp: bool = False
    listen_consent: bool = False  # the user agreed to accept connections from other computers
    mapping: PortMapping | None = None

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
        if self.upnp and self.mapping is None:
            lan = self.host if not self.host.startswith("0.") and ":" not in self.host \
                and not is_loopback_host(self.host) else lan_address()
            if lan is None:
                raise EndpointError("This computer has no network address to forward a port to.")
            self.mapping = await map_port(lan, port)
        endpoint = self.public_endpoint or (self.mapping.endpoint if self.mapping else listening)
        return str(check_publishable(endpoint, network_key))

    async def release(self) -> None:
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
