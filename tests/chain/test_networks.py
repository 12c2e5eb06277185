"""Network presets (spec §1.1), the devnet network file, and custom RPC lists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.chain.networks import (
    ARBITRUM,
    ARBITRUM_SEPOLIA,
    BASE,
    BASE_SEPOLIA,
    MULTICALL3_ADDRESS,
    PRESETS,
    NetworkConfigError,
    get_network,
    load_network_file,
)


@pytest.mark.parametrize(("net", "chain_id", "mor", "diamond"), [
    (BASE, 8453, "0x7431aDa8a591C955a994a21710752EF9b882b8e3",
     "0x6aBE1d282f72B474E54527D93b979A4f64d3030a"),
    (BASE_SEPOLIA, 84532, "0x5C80Ddd187054E1E4aBBfFCD750498e81d34FfA3",
     "0x6e4d0B775E3C3b02683A6F277Ac80240C4aFF930"),
    (ARBITRUM, 42161, "0x092bAaDB7DEf4C3981454dD9c0A0D7FF07bCFc86",
     "0xDE819AaEE474626E3f34Ef0263373357e5a6C71b"),
    (ARBITRUM_SEPOLIA, 421614, "0x34a285a1b1c166420df5b6630132542923b5b27e",
     "0xb8C55cD613af947E73E262F0d3C54b7211Af16CF"),
])
def test_presets_match_spec(net: object, chain_id: int, mor: str, diamond: str) -> None:
    from app.chain.networks import Network

    assert isinstance(net, Network)
    assert net.chain_id == chain_id
    assert net.mor_token.lower() == mor.lower() and net.diamond.lower() == diamond.lower()
    assert net.multicall3 == MULTICALL3_ADDRESS
    assert net.rpc_urls and all(u.startswith("https://") for u in net.rpc_urls)
    assert net.tx_url("0xabc").endswith("/tx/0xabc")


def test_custom_rpc_list_keeps_order_and_validates() -> None:
    net = get_network("base", rpc_urls=["https://a.example", " https://b.example "])
    assert net.rpc_urls == ("https://a.example", "https://b.example")
    assert net.chain_id == 8453  # the chain does not change with the RPC list
    with pytest.raises(NetworkConfigError, match="http"):
        BASE.with_rpc_urls(["ftp://x"])
    with pytest.raises(NetworkConfigError, match="at least one"):
        BASE.with_rpc_urls(["  "])
    with pytest.raises(NetworkConfigError, match="Unknown network"):
        get_network("ethereum")
    assert set(PRESETS) == {"base", "base-sepolia", "arbitrum", "arbitrum-sepolia"}


def _devnet_json(tmp_path: Path, **over: object) -> Path:
    data: dict[str, object] = {
        "chainId": 31337, "rpcUrls": ["http://127.0.0.1:9"],
        "morToken": "0x5fbdb2315678afecb367f032d93f642f64180aa3",
        "diamond": "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512",
        "multicall3": MULTICALL3_ADDRESS,
        "fundingAccount": "0xbcd4042de499d14e55001ccbb24a551f3b954096",
    }
    data.update(over)
    path = tmp_path / "network.json"
    path.write_text(json.dumps(data))
    return path


def test_devnet_file_loads(tmp_path: Path) -> None:
    net = get_network("devnet", devnet_file=_devnet_json(tmp_path))
    assert net.key == "devnet" and net.chain_id == 31337
    assert net.diamond == "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"  # checksummed
    assert net.rpc_urls == ("http://127.0.0.1:9",)
    assert net.explorer == ""


@pytest.mark.parametrize(("over", "words"), [
    ({"chainId": "x"}, "chain id"),
    ({"rpcUrls": []}, "RPC"),
    ({"diamond": "0x1234"}, "invalid 'diamond'"),
    ({"morToken": None}, "missing the 'morToken'"),
])
def test_bad_devnet_files(tmp_path: Path, over: dict[str, object], words: str) -> None:
    with pytest.raises(NetworkConfigError, match=words):
        load_network_file(_devnet_json(tmp_path, **over))


def test_missing_and_corrupt_devnet_file(tmp_path: Path) -> None:
    with pytest.raises(NetworkConfigError, match="devnet up"):
        load_network_file(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(NetworkConfigError, match="could not be read"):
        load_network_file(bad)
