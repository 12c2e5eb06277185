"""How people reach a provider: endpoints nobody else can dial are refused off the devnet (before
any MOR is spent), DNS names are accepted, and the router's port is opened with UPnP IGD and
NAT-PMP against a real IGD: Debian's miniupnpd in a network namespace where this machine allows
it (root, ``ip netns``, nftables), and always against the exchange recorded from it, served from
a loopback HTTP server."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web

from app.cli import main
from app.p2p.endpoints import EndpointError, check_publishable, parse_endpoint
from app.p2p.portmap import PortMappingError, map_port, natpmp_map, unmap_port, upnp_map
from app.services.provider_reach import ReachPlan
from tests.e2e.conftest import Market
from tests.http_server import serving

RECORDED = Path(__file__).parent / "data" / "igd_miniupnpd"


# -- what may be published -----------------------------------------------------------------------


@pytest.mark.parametrize("endpoint,kind", [
    ("127.0.0.1:3333", "loopback"), ("[::1]:3333", "loopback"), ("0.0.0.0:3333", "unspecified"),
    ("192.168.1.20:3333", "private"), ("10.0.0.5:3333", "private"),
    ("172.16.4.4:3333", "private"), ("169.254.10.1:3333", "link-local"),
    ("[fe80::1]:3333", "link-local"), ("[fd00::7]:3333", "private"),
    ("100.64.1.1:3333", "shared (carrier-grade NAT)"),
])
def test_unreachable_endpoints_are_refused_off_the_devnet_and_accepted_on_it(
    endpoint: str, kind: str
) -> None:
    for network in ("base", "base-sepolia", "arbitrum"):
        with pytest.raises(EndpointError) as err:
            check_publishable(endpoint, network)
        assert f"is a {kind} address" in err.value.message
        assert "bid fee" in err.value.message  # says what it would have cost
    assert str(check_publishable(endpoint, "devnet")) == endpoint


def test_dns_names_and_public_addresses_are_accepted() -> None:
    assert str(check_publishable("node.example.com:3333", "base")) == "node.example.com:3333"
    assert str(check_publishable("Provider.Example.org.:443", "base")) == "provider.example.org:443"
    assert str(check_publishable("8.8.8.8:3333", "base")) == "8.8.8.8:3333"
    assert str(check_publishable("[2001:4860::8888]:3333", "base")) == "[2001:4860::8888]:3333"
    for local in ("localhost:3333", "mybox:3333", "nas.local:3333", "router.lan:3333"):
        with pytest.raises(EndpointError, match="only your own network knows"):
            check_publishable(local, "base")


@pytest.mark.parametrize("bad,says", [
    ("http://node.example.com:3333", "Leave out http://"), ("node.example.com", "has no port"),
    ("node.example.com:70000", "from 1 to 65535"), ("bad_name!:3333", "valid host name"),
    ("", "host:port"),
])
def test_malformed_endpoints_get_a_plain_message(bad: str, says: str) -> None:
    with pytest.raises(EndpointError, match=says):
        parse_endpoint(bad)


def test_provider_serve_refuses_a_loopback_endpoint_on_base_before_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MORPHEUS_HOME", str(tmp_path))
    for argv, says in (
        (["--public-endpoint", "127.0.0.1:3333"], "loopback address"),
        (["--public-endpoint", "192.168.1.9:3333"], "private address"),
        ([], "Nobody else can reach 127.0.0.1"),
        (["--upnp"], "not to 127.0.0.1"),
    ):
        code = main(["provider", "serve", "--network", "base-mainnet", *argv])
        err = capsys.readouterr().err
        assert code == 1, err
        assert says in err and "Traceback" not in err
        # Refused before the wallet is even opened (there is none here), so nothing is spent.
        assert "No wallet yet" not in err


@pytest.mark.asyncio(loop_scope="session")
async def test_devnet_accepts_a_private_endpoint_and_registers_it(market: Market) -> None:
    provider = market.provider
    provider.public_endpoint = "192.168.1.20:3333"
    await provider.go_online(10**13)
    chain = market.p.chain
    assert (await chain.get_provider(provider.me)).endpoint == "192.168.1.20:3333"
    # A new public address (the router's changed) is published without staking again.
    mor, stake = await chain.mor_balance(provider.me), (await chain.get_provider(provider.me)).stake
    await provider.publish_endpoint("11.22.33.45:3333")
    info = await chain.get_provider(provider.me)
    assert (info.endpoint, info.stake) == ("11.22.33.45:3333", stake)
    assert await chain.mor_balance(provider.me) == mor
    assert provider.dashboard.endpoint == "11.22.33.45:3333"
    await provider.go_offline()


@pytest.mark.asyncio(loop_scope="session")
async def test_non_loopback_listening_needs_the_users_yes(market: Market) -> None:
    provider = market.provider
    provider.host = "0.0.0.0"
    with pytest.raises(EndpointError, match="lets other computers connect"):
        await provider.go_online(10**13)
    assert not await market.p.chain.is_provider_active(provider.me)  # nothing was sent


# -- UPnP IGD and NAT-PMP against Debian's miniupnpd in a network namespace ---------------------

NFT_RULES = """table inet filter {
    chain forward {
        type filter hook forward priority 0; policy drop;
        jump forwardUPnP
    }
    chain forwardUPnP {
    }
    chain prerouting {
        type nat hook prerouting priority -100; policy accept;
        jump UPnP
    }
    chain postrouting {
        type nat hook postrouting priority 100; policy accept;
        jump UPnP-Postrouting
    }
    chain UPnP {
    }
    chain UPnP-Postrouting {
    }
}
"""


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, timeout=20)


def _why_no_netns() -> str:
    if os.geteuid() != 0:
        return "needs root for `ip netns`"
    for tool in ("ip", "nft", "miniupnpd"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"`{tool}` is not installed (apt-get install miniupnpd-nftables nftables)"
    return ""


@pytest.fixture
def router(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A router in its own network namespace: LAN 10.77.x.1 (veth to us), WAN with a public
    address, miniupnpd with UPnP IGD and NAT-PMP on the LAN side."""
    why = _why_no_netns()
    if why:
        pytest.skip(f"miniupnpd in a network namespace: {why}; the recorded exchange still runs")
    n = os.getpid() % 200 + 20
    ns, lan_h, wan_h = f"mupr{n}", f"mul{n}", f"muw{n}"
    lan_ip, me = f"10.{n}.0.1", f"10.{n}.0.2"
    conf = tmp_path / "miniupnpd.conf"
    conf.write_text(
        f"ext_ifname=wan0\nlistening_ip=lan0\nhttp_port=5555\nenable_natpmp=yes\n"
        f"enable_upnp=yes\nsecure_mode=no\nuuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b\n"
        f"upnp_table_name=filter\nupnp_nat_table_name=filter\nupnp_forward_chain=forwardUPnP\n"
        f"upnp_nat_chain=UPnP\nupnp_nat_postrouting_chain=UPnP-Postrouting\n"
        f"allow 1024-65535 10.{n}.0.0/24 1024-65535\ndeny 0-65535 0.0.0.0/0 0-65535\n")
    (tmp_path / "rules.nft").write_text(NFT_RULES)
    proc = None
    try:
        _run("ip", "netns", "add", ns)
        _run("ip", "link", "add", lan_h, "type", "veth", "peer", "name", "lan0")
        _run("ip", "link", "set", "lan0", "netns", ns)
        _run("ip", "link", "add", wan_h, "type", "veth", "peer", "name", "wan0")
        _run("ip", "link", "set", "wan0", "netns", ns)
        _run("ip", "addr", "add", f"{me}/24", "dev", lan_h)
        _run("ip", "link", "set", lan_h, "up")
        _run("ip", "link", "set", wan_h, "up")
        for cmd in (["addr", "add", f"{lan_ip}/24", "dev", "lan0"], ["link", "set", "lan0", "up"],
                    ["addr", "add", "11.22.33.44/24", "dev", "wan0"],
                    ["link", "set", "wan0", "up"], ["link", "set", "lo", "up"]):
            _run("ip", "-n", ns, *cmd)
        _run("ip", "netns", "exec", ns, "nft", "-f", str(tmp_path / "rules.nft"))
        proc = subprocess.Popen(["ip", "netns", "exec", ns, "/usr/sbin/miniupnpd", "-f",
                                 str(conf), "-d"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # wait until its HTTP port answers
            r = subprocess.run(["ip", "netns", "exec", ns, "ss", "-ltn"], capture_output=True,
                               text=True)
            if ":5555" in r.stdout:
                break
            time.sleep(0.1)
        yield {"ns": ns, "lan": lan_ip, "me": me}
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", lan_h], capture_output=True)
        subprocess.run(["ip", "link", "del", wan_h], capture_output=True)


def _dnat_rules(ns: str) -> str:
    out = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "ruleset"],
                         capture_output=True, text=True).stdout
    return "\n".join(ln for ln in out.splitlines() if "dnat" in ln)


@pytest.mark.asyncio(loop_scope="session")
async def test_upnp_igd_found_by_ssdp_maps_and_unmaps_on_miniupnpd(
    router: dict[str, str]
) -> None:
    m = await upnp_map(router["me"], 3333, external_port=43333)  # found by an SSDP search
    assert (m.method, m.endpoint) == ("UPnP", "11.22.33.44:43333")
    assert f"{router['me']}:3333" in _dnat_rules(router["ns"])  # the router really forwards
    await unmap_port(m)
    assert _dnat_rules(router["ns"]) == ""


@pytest.mark.asyncio(loop_scope="session")
async def test_natpmp_maps_and_unmaps_on_miniupnpd(router: dict[str, str]) -> None:
    m = await natpmp_map(router["lan"], router["me"], 3334, external_port=43334)
    assert (m.method, m.endpoint, m.lease_s) == ("NAT-PMP", "11.22.33.44:43334", 3600)
    assert f"{router['me']}:3334" in _dnat_rules(router["ns"])
    await unmap_port(m)
    assert _dnat_rules(router["ns"]) == ""


@pytest.mark.asyncio(loop_scope="session")
async def test_renewal_finds_a_changed_public_address_on_miniupnpd(
    router: dict[str, str]
) -> None:
    plan = ReachPlan(host=router["me"], upnp=True, listen_consent=True, network_key="base")
    plan.mapping = await upnp_map(router["me"], 3335, external_port=43335)
    assert await plan.renew() is None  # same address: the lease is only renewed
    _run("ip", "-n", router["ns"], "addr", "del", "11.22.33.44/24", "dev", "wan0")
    _run("ip", "-n", router["ns"], "addr", "add", "11.22.33.45/24", "dev", "wan0")
    assert await plan.renew() == "11.22.33.45:43335"
    await plan.release()
    assert plan.mapping is None and _dnat_rules(router["ns"]) == ""


@pytest.mark.asyncio(loop_scope="session")
async def test_a_refused_mapping_says_so_on_miniupnpd(router: dict[str, str]) -> None:
    with pytest.raises(PortMappingError) as err:  # port 80 is outside the router's allow rule
        await map_port(router["me"], 80, gateway=router["lan"])
    msg = err.value.message
    assert "refused the UPnP port mapping (Action not authorized)" in msg, msg
    assert "NAT-PMP: No NAT-PMP answer" in msg, msg  # miniupnpd drops a denied request
    assert _dnat_rules(router["ns"]) == ""


# -- the same exchange, recorded from miniupnpd 2.3.1, served on loopback -----------------------


def _recorded(name: str) -> web.Response:
    head, _, body = (RECORDED / name).read_bytes().partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return web.Response(status=status, body=body, content_type="text/xml", charset="utf-8")


@pytest_asyncio.fixture(loop_scope="session")
async def recorded_igd() -> AsyncIterator[str]:
    async def describe(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if not (RECORDED / name).is_file():
            return web.Response(status=404)
        return web.Response(body=(RECORDED / name).read_bytes(), content_type="text/xml")

    async def control(request: web.Request) -> web.Response:
        action = request.headers["SOAPAction"].strip('"').rpartition("#")[2]
        body = await request.text()
        if action == "AddPortMapping" and "<NewExternalPort>80<" in body:
            return _recorded("AddPortMapping-refused.http")
        return _recorded(f"{action}.http")

    app = web.Application()
    app.router.add_get("/{name}", describe)
    app.router.add_post("/ctl/IPConn", control)
    async with serving(app) as url:
        yield f"{url}/rootDesc.xml"


@pytest.mark.asyncio(loop_scope="session")
async def test_upnp_against_the_recorded_miniupnpd_exchange(recorded_igd: str) -> None:
    m = await upnp_map("10.77.0.2", 3333, external_port=43333, location=recorded_igd)
    assert (m.method, m.endpoint, m.internal_ip) == ("UPnP", "11.22.33.44:43333", "10.77.0.2")
    await unmap_port(m)
    with pytest.raises(PortMappingError) as err:
        # Refused over UPnP (606), and no NAT-PMP router answers on loopback.
        await map_port("10.77.0.2", 80, location=recorded_igd, gateway="127.0.0.1")
    msg = err.value.message
    assert "refused the UPnP port mapping" in msg and "Action not authorized" in msg
    assert "No NAT-PMP answer" in msg and "Forward the port by hand" in msg


@pytest.mark.asyncio(loop_scope="session")
async def test_no_router_at_all_is_a_plain_message() -> None:
    with pytest.raises(PortMappingError, match="could not be opened on your router") as err:
        await asyncio.wait_for(map_port("127.0.0.1", 3333, location="http://127.0.0.1:9/x.xml",
                                        gateway="127.0.0.1"), 30)
    assert "UPnP service did not answer" in err.value.message


def test_recorded_exchange_is_miniupnpd() -> None:
    assert "MiniUPnPd/2.3.1" in (RECORDED / "GetExternalIPAddress.http").read_text()
    assert json.dumps(sorted(p.name for p in RECORDED.iterdir()))
