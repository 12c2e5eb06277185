"""Which chain the program talks to: presets for the live deployments, and the local devnet.

A ``Network`` is plain data (addresses, chain id, RPC list in fallback order) so settings can
store a custom RPC list and the devnet can be described by the JSON file it writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from eth_utils import is_address, to_checksum_address

from app.errors import UserFacingError

MULTICALL3_ADDRESS = "0xcA11bde05977b3631167028862bE2a173976CA11"


class NetworkConfigError(UserFacingError):
    """A network file or custom setting that cannot be used as given."""


@dataclass(frozen=True)
class Network:
    key: str  # stable identifier stored in settings: "base", "base-sepolia", "devnet", ...
    name: str  # shown to the user
    chain_id: int
    rpc_urls: tuple[str, ...]
    mor_token: str
    diamond: str
    multicall3: str = MULTICALL3_ADDRESS
    explorer: str = ""  # human explorer base URL, "" when there is none
    explorer_api: str = ""
    funding_account: str = ""
    is_testnet: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def with_rpc_urls(self, urls: list[str] | tuple[str, ...]) -> Network:
        """The same network reached through a custom RPC list (first = preferred)."""
        cleaned = tuple(u.strip() for u in urls if u.strip())
        if not cleaned:
            raise NetworkConfigError("Add at least one RPC address for this network.")
        for u in cleaned:
            if not (u.startswith("http://") or u.startswith("https://")):
                raise NetworkConfigError(
                    f"The RPC address {u!r} must start with http:// or https://."
                )
        return replace(self, rpc_urls=cleaned)

    def tx_url(self, tx_hash: str) -> str:
        return f"{self.explorer}/tx/{tx_hash}" if self.explorer else ""

    def address_url(self, address: str) -> str:
        return f"{self.explorer}/address/{address}" if self.explorer else ""


BASE = Network(
    key="base",
    name="BASE",
    chain_id=8453,
    rpc_urls=("https://mainnet.base.org", "https://base.llamarpc.com"),
    mor_token="0x7431aDa8a591C955a994a21710752EF9b882b8e3",
    diamond="0x6aBE1d282f72B474E54527D93b979A4f64d3030a",
    explorer="https://base.blockscout.com",
    explorer_api="https://base.blockscout.com/api/v2",
    funding_account="0x5160C0311A95E0A1072FA85Df23712A7BA1cD4b1",
)
BASE_SEPOLIA = Network(
    key="base-sepolia",
    name="BASE Sepolia (test network)",
    chain_id=84532,
    rpc_urls=("https://sepolia.base.org",),
    mor_token="0x5C80Ddd187054E1E4aBBfFCD750498e81d34FfA3",
    diamond="0x6e4d0B775E3C3b02683A6F277Ac80240C4aFF930",
    explorer="https://base-sepolia.blockscout.com",
    explorer_api="https://base-sepolia.blockscout.com/api/v2",
    funding_account="0x19ec1E4b714990620edf41fE28e9a1552953a7F4",
    is_testnet=True,
)
ARBITRUM = Network(
    key="arbitrum",
    name="Arbitrum One (legacy)",
    chain_id=42161,
    rpc_urls=("https://arb1.arbitrum.io/rpc",),
    mor_token=to_checksum_address("0x092bAaDB7DEf4C3981454dD9c0A0D7FF07bCFc86"),
    diamond="0xDE819AaEE474626E3f34Ef0263373357e5a6C71b",
    explorer="https://arbitrum.blockscout.com",
    explorer_api="https://arbitrum.blockscout.com/api/v2",
    funding_account="0x1FE04BC15Cf2c5A2d41a0b3a96725596676eBa1E",
)
ARBITRUM_SEPOLIA = Network(
    key="arbitrum-sepolia",
    name="Arbitrum Sepolia (legacy test network)",
    chain_id=421614,
    rpc_urls=("https://sepolia-rollup.arbitrum.io/rpc",),
    mor_token=to_checksum_address("0x34a285a1b1c166420df5b6630132542923b5b27e"),
    diamond=to_checksum_address("0xb8C55cD613af947E73E262F0d3C54b7211Af16CF"),
    explorer="https://arbitrum-sepolia.blockscout.com",
    explorer_api="https://arbitrum-sepolia.blockscout.com/api/v2",
    funding_account="0x19ec1E4b714990620edf41fE28e9a1552953a7F4",
    is_testnet=True,
)

PRESETS: dict[str, Network] = {n.key: n for n in (BASE, BASE_SEPOLIA, ARBITRUM, ARBITRUM_SEPOLIA)}
DEVNET_KEY = "devnet"


def _addr(data: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = data.get(key, "")
    if not value:
        if required:
            raise NetworkConfigError(
                f"The network file is missing the {key!r} address. Recreate the devnet."
            )
        return ""
    if not isinstance(value, str) or not is_address(value):
        raise NetworkConfigError(f"The network file has an invalid {key!r} address: {value!r}.")
    return to_checksum_address(value)


def network_from_dict(data: dict[str, Any], *, key: str = DEVNET_KEY, name: str = "") -> Network:
    """Build a Network from the devnet's network.json shape:
    ``{chainId, rpcUrls | rpcUrl, morToken, diamond, multicall3, fundingAccount}``."""
    if not isinstance(data, dict):
        raise NetworkConfigError("The network file does not describe a network.")
    try:
        chain_id = int(data["chainId"])
    except (KeyError, TypeError, ValueError) as exc:
        raise NetworkConfigError("The network file has no valid chain id.") from exc
    urls = data.get("rpcUrls") or ([data["rpcUrl"]] if data.get("rpcUrl") else [])
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls) or not urls:
        raise NetworkConfigError("The network file lists no RPC address.")
    known = {"chainId", "rpcUrls", "rpcUrl", "morToken", "diamond", "multicall3",
             "fundingAccount", "name", "explorer"}
    net = Network(
        key=key,
        name=name or str(data.get("name") or "Local devnet"),
        chain_id=chain_id,
        rpc_urls=(),
        mor_token=_addr(data, "morToken"),
        diamond=_addr(data, "diamond"),
        multicall3=_addr(data, "multicall3", required=False) or MULTICALL3_ADDRESS,
        explorer=str(data.get("explorer") or ""),
        funding_account=_addr(data, "fundingAccount", required=False),
        is_testnet=True,
        extra={k: v for k, v in data.items() if k not in known},
    )
    return net.with_rpc_urls(urls)


def load_network_file(path: Path, *, key: str = DEVNET_KEY) -> Network:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise NetworkConfigError(
            "The local devnet is not set up yet. Start it with `morpheus devnet up`.",
            detail=str(path),
        ) from exc
    except (OSError, ValueError) as exc:
        raise NetworkConfigError(
            "The network file could not be read.", detail=f"{path}: {exc}"
        ) from exc
    return network_from_dict(data, key=key)


def get_network(key: str, *, devnet_file: Path | None = None,
                rpc_urls: list[str] | None = None) -> Network:
    """A preset by key, or the devnet from its file; optionally with a custom RPC list."""
    if key == DEVNET_KEY:
        if devnet_file is None:
            raise NetworkConfigError("The devnet needs its network file.")
        net = load_network_file(devnet_file)
    elif key in PRESETS:
        net = PRESETS[key]
    else:
        raise NetworkConfigError(
            f"Unknown network {key!r}. Choose one of: {', '.join([*PRESETS, DEVNET_KEY])}."
        )
    return net.with_rpc_urls(rpc_urls) if rpc_urls else net
