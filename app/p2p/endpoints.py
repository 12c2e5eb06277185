"""The provider's endpoint: what it listens on, and what it publishes on chain for others to dial.

Why so strict: a provider pays the bid fee and locks stakes as soon as it registers, and consumers
dial the registered ``host:port`` over the internet. A loopback, private or link-local address
there can never be reached by anyone else, so outside the local devnet it is refused before any
MOR is spent. A DNS name is accepted (it is how people with a changing address publish one).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

from app.errors import UserFacingError

DEVNET_KEY = "devnet"
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa", ".localdomain")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_PROBE = ("192.0.2.1", 9)  # TEST-NET-1: a UDP "connect" sends nothing, it only picks a route


class EndpointError(UserFacingError):
    """An endpoint that cannot be listened on or published as given."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None


def parse_endpoint(text: str) -> Endpoint:
    """``host:port`` (``[v6]:port`` for IPv6), no scheme, as the contract stores it."""
    s = text.strip()
    if not s:
        raise EndpointError("Give the address as host:port, for example node.example.com:3333.")
    if "://" in s or "/" in s:
        raise EndpointError(f"\u201c{s}\u201d is not host:port. Leave out http:// and any "
                            "path: consumers dial a plain TCP address, like 203.0.113.7:3333.")
    if s.startswith("["):
        host, sep, port = s[1:].partition("]:")
        if not sep:
            raise EndpointError(f"\u201c{s}\u201d is not [IPv6]:port.")
    else:
        host, sep, port = s.rpartition(":")
        if not sep or ":" in host:
            raise EndpointError(f"\u201c{s}\u201d has no port. Write it as host:port, for "
                                "example node.example.com:3333.")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise EndpointError(f"The port in \u201c{s}\u201d must be a number from 1 to 65535.")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        name = host.rstrip(".")
        if len(name) > 253 or not all(_LABEL.match(x) for x in name.split(".")):
            raise EndpointError(f"\u201c{host}\u201d is neither an IP address nor a valid host "
                                "name.") from None
        host = name.lower()
    return Endpoint(host, int(port))


def address_kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """"public", or why not: loopback, private, link-local, shared (carrier NAT), ..."""
    if ip.is_loopback:
        return "loopback"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "shared (carrier-grade NAT)"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    return "public"


def check_publishable(text: str, network_key: str) -> Endpoint:
    """The endpoint to register on chain, refused when nobody else could ever reach it (on any
    network but the devnet, where everything runs on this computer)."""
    ep = parse_endpoint(text)
    if network_key == DEVNET_KEY:
        return ep
    cost = ("Registering it would spend the bid fee and lock your stakes for nothing. Give the "
            "public address or a DNS name that other people can reach (forward the port on your "
            "router, or let the app map it with UPnP).")
    ip = ep.ip
    if ip is not None:
        kind = address_kind(ip)
        if kind != "public":
            where = "this computer" if kind in ("loopback", "unspecified") else "your network"
            raise EndpointError(f"{ep} is a {kind} address: nobody outside {where} can reach "
                                f"it. {cost}")
        return ep
    if ep.host == "localhost" or ep.host.endswith(_LOCAL_SUFFIXES) or "." not in ep.host:
        raise EndpointError(f"\u201c{ep.host}\u201d is a name only your own network knows. "
                            f"{cost}")
    return ep


def is_loopback_host(host: str) -> bool:
    """Listening here keeps the node to this computer (no need to ask the user first)."""
    if host.strip("[]") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class LocalAddress:
    ip: str
    kind: str  # address_kind(): loopback, private, public, ...

    @property
    def label(self) -> str:
        return {"loopback": "this computer only", "private": "your local network (LAN)",
                "public": "the internet"}.get(self.kind, self.kind)


def local_addresses() -> list[LocalAddress]:
    """This computer's addresses, best first: the one its default route uses, the others the
    host name resolves to, and loopback. Nothing is sent on the network."""
    found: list[str] = []
    for family, probe in ((socket.AF_INET, _PROBE), (socket.AF_INET6, ("2001:db8::1", 9))):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.connect(probe)
                found.append(str(s.getsockname()[0]))
        except OSError:
            continue
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, proto=socket.IPPROTO_TCP):
            found.append(str(info[4][0]).split("%")[0])
    except OSError:
        pass
    found.append("127.0.0.1")
    out: list[LocalAddress] = []
    for a in dict.fromkeys(found):
        try:
            out.append(LocalAddress(a, address_kind(ipaddress.ip_address(a))))
        except ValueError:
            continue
    return out


def lan_address() -> str | None:
    """The LAN address a router would forward a mapped port to."""
    for a in local_addresses():
        if a.kind in ("private", "public") and ":" not in a.ip:
            return a.ip
    return None
