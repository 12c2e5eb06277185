"""Our ABI table against the spec's selectors and the devnet artifacts, and the hand-written
fast codec against eth_abi on generated values (it must agree bit for bit, or refuse)."""

from __future__ import annotations

import json

import pytest
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.tools import get_abi_strategy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.chain import abi
from app.chain.abi import DIAMOND, ERC20, MULTICALL3, decode_aggregate3, encode_aggregate3
from app.paths import resources_dir

# Selectors copied from spec §2.3–2.7 (facts of the live contract).
SPEC_SELECTORS = {
    "providerRegister": "365700cb", "providerDeregister": "2ca36c49", "getProvider": "55f21eb7",
    "getProviderMinimumStake": "53c029f6", "getActiveProviders": "d5472642",
    "getIsProviderActive": "63ef175d", "modelRegister": "21dea0a0", "modelDeregister": "d5a245f1",
    "getModelId": "bb93d26a", "getModel": "21e7c498", "getModelIds": "08d0aab4",
    "getActiveModelIds": "3839d3dc", "getModelMinimumStake": "f647ba3d",
    "getIsModelActive": "ca74b5f3", "postModelBid": "ede96bb1", "deleteModelBid": "8913dcaa",
    "getBidId": "747ddd5b", "getProviderModelId": "1cc9de8c", "getBidFee": "8dbb4647",
    "getFeeBalance": "d4c30ceb", "getMinMaxBidPricePerSecond": "38c8ac62", "getBid": "91704e1e",
    "getProviderActiveBids": "af5b77ca", "getModelActiveBids": "8a683b6e",
    "getProviderBids": "59d435c4", "getModelBids": "fade17b1", "getToken": "21df0da7",
    "isBidActive": "1345df58", "openSession": "a85a1782", "closeSession": "42f77a31",
    "claimForProvider": "f2e96e8e", "withdrawUserStakes": "a98a7c6b",
    "getUserStakesOnHold": "967885df", "getSessionId": "4d689ffd", "getSessionEnd": "b823dc8f",
    "stakeToStipend": "b3cb0d0f", "stipendToStake": "ca40d45f", "getTodaysBudget": "40005965",
    "getComputeBalance": "61ce471a", "totalMORSupply": "6d0cfe5a", "startOfTheDay": "ba26588c",
    "getSession": "39b240bd", "getUserSessions": "eb7764bb", "getProviderSessions": "87bced7d",
    "getModelSessions": "1d78a872", "getPools": "673a2a1f", "getPool": "068bcd8d",
    "getFundingAccount": "775c3727", "getTotalSessions": "76400935",
    "getProvidersTotalClaimed": "bdfbbada", "getIsProviderApprovalUsed": "db1cf1e2",
    "getMaxSessionDuration": "a9756858", "getProviderModelStats": "1b26c116",
    "getModelStats": "ce535723", "isRightsDelegated": "54126b8f", "getRegistry": "5ab1bd53",
    "owner": "8da5cb5b",
}


def test_every_diamond_function_has_the_spec_selector() -> None:
    assert set(DIAMOND) == set(SPEC_SELECTORS)
    for name, fn in DIAMOND.items():
        assert fn.selector.hex() == SPEC_SELECTORS[name], name


def _canonical(entry: dict[str, object]) -> str:
    t = str(entry["type"])
    if t.startswith("tuple"):
        comps = entry["components"]
        assert isinstance(comps, list)
        return "(" + ",".join(_canonical(c) for c in comps) + ")" + t[5:]
    return t


@pytest.mark.parametrize(("artifact", "table"), [
    ("LumerinDiamond", DIAMOND), ("MorpheusToken", ERC20), ("Multicall3", MULTICALL3)])
def test_table_matches_devnet_artifact(artifact: str, table: dict[str, abi.Fn]) -> None:
    data = json.loads((resources_dir() / "contracts" / f"{artifact}.json").read_text())
    fns = {e["name"]: e for e in data["abi"] if e["type"] == "function"}
    for name, fn in table.items():
        entry = fns[name]
        sig = name + "(" + ",".join(_canonical(i) for i in entry["inputs"]) + ")"
        assert sig == fn.signature
        if fn.outputs:
            assert tuple(_canonical(o) for o in entry["outputs"]) == fn.outputs, name


ALL_FNS = [f for f in (*DIAMOND.values(), *ERC20.values()) if f.outputs]


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data(), fn=st.sampled_from(ALL_FNS))
def test_fast_decode_equals_eth_abi(data: st.DataObject, fn: abi.Fn) -> None:
    types = list(fn.outputs)
    values = data.draw(get_abi_strategy("(" + ",".join(types) + ")"))
    encoded = abi_encode(types, list(values))
    fast = fn.decode(encoded)
    reference = abi_decode(types, encoded)
    assert _norm(fast) == _norm(reference)
    if len(encoded) >= 32:
        with pytest.raises(ValueError):
            fn.decode(encoded[: len(encoded) - 32])


def _norm(v: object) -> object:
    if isinstance(v, list | tuple):
        return tuple(_norm(x) for x in v)
    if isinstance(v, str) and v.startswith("0x") and len(v) == 42:
        return v.lower()
    return v


STATIC_INPUT_FNS = [f for f in DIAMOND.values() if "string" not in f.signature
                    and "bytes," not in f.signature and "bytes)" not in f.signature
                    and "[]" not in f.signature]


@settings(max_examples=100, deadline=None)
@given(data=st.data(), fn=st.sampled_from(STATIC_INPUT_FNS))
def test_fast_encode_equals_eth_abi(data: st.DataObject, fn: abi.Fn) -> None:
    args = data.draw(get_abi_strategy("(" + ",".join(fn.inputs) + ")")) if fn.inputs else ()
    assert fn.encode(*args) == fn.selector + abi_encode(fn.inputs, list(args))


@given(st.lists(st.tuples(get_abi_strategy("address"), st.booleans(), st.binary(max_size=100)),
                max_size=8))
def test_multicall_envelope_equals_eth_abi(calls: list[tuple[str, bool, bytes]]) -> None:
    agg = MULTICALL3["aggregate3"]
    assert encode_aggregate3(calls) == agg.selector + abi_encode(
        ["(address,bool,bytes)[]"], [calls])
    results = [(ok, data) for _, ok, data in calls]
    assert decode_aggregate3(abi_encode(["(bool,bytes)[]"], [results])) == results
