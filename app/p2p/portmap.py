"""Open the provider's port on the home router: UPnP IGD (through ``async-upnp-client``) first,
then NAT-PMP (RFC 6886, a 12-byte UDP exchange with the gateway), with a plain reason for each
when neither works (UPnP switched off in the router, a mapping refused, no router at all).

Why both: most home routers speak one of them; a provider behind one cannot be reached unless the
port is forwarded, and asking the user to do that by hand is where most people give up.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import struct
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from app.errors import UserFacingError

log = logging.getLogger(__name__)

IGD_TARGETS = ("urn:schemas-upnp-org:device:InternetGatewayDevice:2",
               "urn:schemas-upnp-org:device:InternetGatewayDevice:1")
NATPMP_PORT = 5351
NATPMP_RESULTS = {1: "unsupported version", 2: "not authorised (the router refuses mappings)",
                  3: "network failure (the router has no public address yet)",
                  4: "out of resources (too many mappings)", 5: "unsupported request"}
DESCRIPTION = "Morpheus provider"
DEFAULT_LEASE_S = 3600


class PortMappingError(UserFacingError):
    """No mapping could be made; the message says what each method answered."""


@dataclass(frozen=True)
class PortMapping:
    method: str  # "UPnP" or "NAT-PMP"
    external_ip: str
    external_port: int
    internal_ip: str
    internal_port: int
    lease_s: int
    gateway: str  # the IGD's description URL, or the NAT-PMP gateway address

    @property
    def endpoint(self) -> str:
        return f"{self.external_ip}:{self.external_port}"


# -- UPnP IGD ------------------------------------------------------------------------------------


async def discover_igd(source_ip: str | None, timeout: float = 3.0) -> str | None:
    """The description URL of the first Internet Gateway Device that answers an SSDP search."""
    from async_upnp_client.search import async_search

    found: list[str] = []

    async def on_response(headers: Any) -> None:
        loc = headers.get("location")
        if loc and not found:
            found.append(str(loc))

    for target in IGD_TARGETS:
        with contextlib.suppress(OSError):
            await async_search(on_response, timeout=max(1, int(timeout)), search_target=target,
                               source=(source_ip, 0) if source_ip else None)
        if found:
            return found[0]
    return None


async def _igd(location: str) -> Any:
    from async_upnp_client.aiohttp import AiohttpRequester
    from async_upnp_client.client_factory import UpnpFactory
    from async_upnp_client.profiles.igd import IgdDevice

    device = await UpnpFactory(AiohttpRequester(timeout=5)).async_create_device(location)
    return IgdDevice(device, None)


async def upnp_map(internal_ip: str, internal_port: int, *, external_port: int | None = None,
                   location: str | None = None, lease_s: int = DEFAULT_LEASE_S,
                   timeout: float = 3.0) -> PortMapping:
    from async_upnp_client.exceptions import UpnpActionError, UpnpError

    loc = location or await discover_igd(internal_ip, timeout)
    if loc is None:
        raise PortMappingError("No router answered a UPnP search (UPnP may be switched off in "
                               "the router's settings).")
    try:
        igd = await _igd(loc)
        ext_ip = await igd.async_get_external_ip_address()
        if not ext_ip:
            raise PortMappingError("The router does not say its public address over UPnP.")
        port = external_port or internal_port
        await igd.async_add_port_mapping(
            remote_host=ipaddress.IPv4Address("0.0.0.0"), external_port=port, protocol="TCP",
            internal_port=internal_port, internal_client=ipaddress.IPv4Address(internal_ip),
            enabled=True, description=DESCRIPTION, lease_duration=timedelta(seconds=lease_s),
        )
    except UpnpActionError as exc:  # the router answered: no
        why = getattr(exc, "error_desc", None) or str(exc)
        raise PortMappingError(f"The router refused the UPnP port mapping ({why}).",
                               detail=repr(exc)) from None
    except (UpnpError, TimeoutError, OSError) as exc:
        raise PortMappingError("The router's UPnP service did not answer.",
                               detail=repr(exc)) from None
    return PortMapping("UPnP", ext_ip, port, internal_ip, internal_port, lease_s, loc)


async def upnp_unmap(m: PortMapping) -> None:
    igd = await _igd(m.gateway)
    await igd.async_delete_port_mapping(remote_host=ipaddress.IPv4Address("0.0.0.0"),
                                        external_port=m.external_port, protocol="TCP")


# -- NAT-PMP (RFC 6886) --------------------------------------------------------------------------


class _Reply(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.replies.put_nowait(data)


async def _natpmp(gateway: str, request: bytes, opcode: int, size: int, tries: int = 3,
                  first_wait: float = 0.25) -> bytes:
    """Send ``request`` and wait for its answer, doubling the wait each try (RFC 6886 §3.1)."""
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        _Reply, remote_addr=(gateway, NATPMP_PORT), family=socket.AF_INET)
    try:
        wait = first_wait
        for _ in range(tries):
            transport.sendto(request)
            try:
                while True:
                    data = await asyncio.wait_for(proto.replies.get(), wait)
                    if len(data) >= 4 and data[0] == 0 and data[1] == 128 + opcode:
                        break
            except TimeoutError:
                wait *= 2
                continue
            (result,) = struct.unpack("!H", data[2:4])
            if result:
                why = NATPMP_RESULTS.get(result, f"error {result}")
                raise PortMappingError(f"The router refused the NAT-PMP request: {why}.")
            if len(data) < size:
                raise PortMappingError("The router's NAT-PMP answer was cut short.")
            return data
        raise PortMappingError(f"No NAT-PMP answer from the router at {gateway}.")
    finally:
        transport.close()


async def natpmp_map(gateway: str, internal_ip: str, internal_port: int, *,
                     external_port: int | None = None,
                     lease_s: int = DEFAULT_LEASE_S) -> PortMapping:
    data = await _natpmp(gateway, b"\x00\x00", 0, 12)
    ext_ip = str(ipaddress.IPv4Address(data[8:12]))
    req = struct.pack("!BBHHHI", 0, 2, 0, internal_port, external_port or internal_port, lease_s)
    data = await _natpmp(gateway, req, 2, 16)
    _, mapped, lifetime = struct.unpack("!HHI", data[8:16])
    return PortMapping("NAT-PMP", ext_ip, mapped, internal_ip, internal_port, lifetime, gateway)


async def natpmp_unmap(m: PortMapping) -> None:
    await _natpmp(m.gateway, struct.pack("!BBHHHI", 0, 2, 0, m.internal_port, 0, 0), 2, 16)


def default_gateway() -> str | None:
    """The IPv4 default gateway (Linux ``/proc/net/route``); None where it cannot be read."""
    try:
        lines = Path("/proc/net/route").read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        f = line.split()
        if len(f) > 2 and f[1] == "00000000" and f[2] != "00000000":
            return str(ipaddress.IPv4Address(struct.pack("<I", int(f[2], 16))))
    return None


# -- both ----------------------------------------------------------------------------------------


async def map_port(internal_ip: str, internal_port: int, *, external_port: int | None = None,
                   location: str | None = None, gateway: str | None = None,
                   lease_s: int = DEFAULT_LEASE_S) -> PortMapping:
    """UPnP first, then NAT-PMP; a ``PortMappingError`` names what each one answered."""
    reasons: list[str] = []
    try:
        return await upnp_map(internal_ip, internal_port, external_port=external_port,
                              location=location, lease_s=lease_s)
    except PortMappingError as exc:
        reasons.append(f"UPnP: {exc.message}")
    gw = gateway or default_gateway()
    if gw is None:
        reasons.append("NAT-PMP: the router's address is not known.")
    else:
        try:
            return await natpmp_map(gw, internal_ip, internal_port,
                                    external_port=external_port, lease_s=lease_s)
        except (PortMappingError, OSError) as exc:
            msg = exc.message if isinstance(exc, PortMappingError) else str(exc)
            reasons.append(f"NAT-PMP: {msg}")
    raise PortMappingError(
        "The port could not be opened on your router automatically. " + " ".join(reasons)
        + " Forward the port by hand in the router's settings and give your public address, "
        "or serve from a machine with a public address.")


async def unmap_port(m: PortMapping) -> None:
    """Remove the mapping (on stop); failures are logged, the lease expires on its own."""
    try:
        await (upnp_unmap(m) if m.method == "UPnP" else natpmp_unmap(m))
    except Exception as exc:
        log.warning("could not remove the %s port mapping: %s", m.method, exc)
