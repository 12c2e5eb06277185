# ruff: noqa: E501  (spec tables: one selector per line)
"""The compiled artifacts are current and expose exactly the live Diamond's interface (spec §2)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from eth_utils import keccak

from app.chain.artifacts import ARTIFACT_NAMES, ArtifactError, load_artifact

REPO = Path(__file__).resolve().parents[2]

SPEC_FUNCTION_SELECTORS = {
    "providerRegister": "0x365700cb",
    "providerDeregister": "0x2ca36c49",
    "providerSetMinStake": "0x0b7f94d6",
    "getProvider": "0x55f21eb7",
    "getProviderMinimumStake": "0x53c029f6",
    "getActiveProviders": "0xd5472642",
    "getIsProviderActive": "0x63ef175d",
    "modelRegister": "0x21dea0a0",
    "modelDeregister": "0xd5a245f1",
    "modelSetMinStake": "0x78998329",
    "getModel": "0x21e7c498",
    "getModelIds": "0x08d0aab4",
    "getActiveModelIds": "0x3839d3dc",
    "getModelMinimumStake": "0xf647ba3d",
    "getIsModelActive": "0xca74b5f3",
    "postModelBid": "0xede96bb1",
    "deleteModelBid": "0x8913dcaa",
    "setMarketplaceBidFee": "0x849c239c",
    "setMinMaxBidPricePerSecond": "0xf748de1c",
    "withdrawFee": "0xfd9be522",
    "getBidId": "0x747ddd5b",
    "getProviderModelId": "0x1cc9de8c",
    "getBidFee": "0x8dbb4647",
    "getFeeBalance": "0xd4c30ceb",
    "getMinMaxBidPricePerSecond": "0x38c8ac62",
    "getBid": "0x91704e1e",
    "getProviderActiveBids": "0xaf5b77ca",
    "getModelActiveBids": "0x8a683b6e",
    "getProviderBids": "0x59d435c4",
    "getModelBids": "0xfade17b1",
    "getToken": "0x21df0da7",
    "isBidActive": "0x1345df58",
    "openSession": "0xa85a1782",
    "closeSession": "0x42f77a31",
    "claimForProvider": "0xf2e96e8e",
    "withdrawUserStakes": "0xa98a7c6b",
    "getUserStakesOnHold": "0x967885df",
    "setPoolConfig": "0xd7178753",
    "setMaxSessionDuration": "0xe8664577",
    "stakeToStipend": "0xb3cb0d0f",
    "stipendToStake": "0xca40d45f",
    "getTodaysBudget": "0x40005965",
    "getComputeBalance": "0x61ce471a",
    "totalMORSupply": "0x6d0cfe5a",
    "getUserSessions": "0xeb7764bb",
    "getProviderSessions": "0x87bced7d",
    "getModelSessions": "0x1d78a872",
    "getFundingAccount": "0x775c3727",
    "getTotalSessions": "0x76400935",
    "getProvidersTotalClaimed": "0xbdfbbada",
    "getIsProviderApprovalUsed": "0xdb1cf1e2",
    "setRegistry": "0xa91ee0dc",
    "getRegistry": "0x5ab1bd53",
    "isRightsDelegated": "0x54126b8f",
    "DELEGATION_RULES_PROVIDER": "0x58aeef93",
    "DELEGATION_RULES_MODEL": "0x86878047",
    "DELEGATION_RULES_MARKETPLACE": "0xad34a150",
    "DELEGATION_RULES_SESSION": "0xd1b43638",
    "getSessionId": "0x4d689ffd",
    "owner": "0x8da5cb5b",
    "transferOwnership": "0xf2fde38b",
    "__ProviderRegistry_init": "0x5c7ce38b",
    "__ModelRegistry_init": "0xd69bdf30",
    "__Marketplace_init": "0xf9804d0b",
    "__SessionRouter_init": "0xf8ba944b",
    "__Delegation_init": "0xe50e4c43",
    "getSessionEnd": "0xb823dc8f",
    "startOfTheDay": "0xba26588c",
    "getSession": "0x39b240bd",
    "getPools": "0x673a2a1f",
    "getPool": "0x068bcd8d",
    "getMaxSessionDuration": "0xa9756858",
    "getProviderModelStats": "0x1b26c116",
    "getModelStats": "0xce535723",
    "getModelId": "0xbb93d26a",
}

SPEC_ERROR_SELECTORS = {
    "ProviderStakeTooLow": "0xbcc35dcc",
    "ProviderHasActiveBids": "0xf6c1fedc",
    "ProviderNotFound": "0xb1cd0903",
    "ProviderHasAlreadyDeregistered": "0x15b52eb4",
    "ProviderNotDeregistered": "0x5ac22984",
    "ProviderNoStake": "0x943a78fe",
    "ProviderNothingToWithdraw": "0xaf027e2e",
    "ModelStakeTooLow": "0x2f7895f5",
    "ModelHasAlreadyDeregistered": "0xb0835d39",
    "ModelHasActiveBids": "0x633910a0",
    "ModelNotFound": "0x897b047d",
    "MarketplaceProviderNotFound": "0x8d0285d4",
    "MarketplaceModelNotFound": "0x0e68881c",
    "MarketplaceActiveBidNotFound": "0x33ac0973",
    "MarketplaceBidMinPricePerSecondIsZero": "0x6261483d",
    "MarketplaceBidMinPricePerSecondIsInvalid": "0x5dcc0631",
    "MarketplaceBidPricePerSecondInvalid": "0x9c7f2f48",
    "MarketplaceFeeAmountIsZero": "0x864d4cb3",
    "SessionProviderSignatureMismatch": "0x453ede6a",
    "SessionApproveExpired": "0x4db74c88",
    "SessionApprovedForAnotherChainId": "0xadf95488",
    "SessionDuplicateApproval": "0x684df34c",
    "SessionReceiptForAnotherChainId": "0x4069702a",
    "SessionReceiptExpired": "0xb55af04a",
    "SessionTooShort": "0xf4d7eed5",
    "SessionAlreadyClosed": "0xe9fb372e",
    "SessionBidNotFound": "0x1de03f33",
    "SessionPoolIndexOutOfBounds": "0x4bb51606",
    "SessionUserAmountToWithdrawIsZero": "0xc41b8c4d",
    "SessionMaxDurationTooShort": "0xf0f669df",
    "SessionStakeTooLow": "0x63e209ea",
    "SessionApprovedForAnotherUser": "0x49470e18",
    "SessionNotEndedOrNotExist": "0x2c8f1adb",
    "SessionProviderNothingToClaimInThisPeriod": "0x907f554e",
    "InsufficientRightsForOperation": "0x2e980d14",
    "OwnableUnauthorizedAccount": "0x118cdaa7",
}

SPEC_EVENT_TOPICS = {
    "Initialized": "0xdc73717d728bcfa015e8117438a65319aa06e979ca324afa6e1ea645c28ea15d",
    "ProviderRegistered": "0x70abce74777b3838ae60a33a6b9a87d9d25532668fe4fea548554c55868579c0",
    "ProviderDeregistered": "0xf04091b4a187e321a42001e46961e45b6a75b203fc6fb766b7e05505f6080abb",
    "ProviderMinimumStakeUpdated": "0x4d6b08cda70533f8222fea5ffc794d3a1f5dcde2620c6fa74789ef647db19450",
    "ProviderWithdrawn": "0x61388fbc2ba003175d3018b8f13b002234cc4e203a332a4a6dadb96bc82c3db2",
    "ModelRegisteredUpdated": "0xda9282a68d90c36d31d780a69a65da6c35191a5d8cdd37bd1a1a5aa9fb168e77",
    "ModelDeregistered": "0x79a9f3017f26694a70f688c1e37f4add042a050660c62fc8351f760b153b888b",
    "ModelMinimumStakeUpdated": "0x136e2b2828baa18257e8eef3c26df62481c7b16303ca0ebe4202865df5e97d7e",
    "MaretplaceFeeUpdated": "0x9c16b729dd48a231a60f92c4c1a12a5225825dd20699fc221314ea2d73a97cce",
    "MarketplaceBidPosted": "0xfc422bb61cd73bc76f27eecf69cce3db0b05d39769ca3ed0fb314a3d04bff6f6",
    "MarketplaceBidDeleted": "0x409dfc0f98bf6e062e576fbdc63c9f82392d44deff61e3412f8bd256d2814883",
    "MarketplaceBidMinMaxPriceUpdated": "0x522f4bcd10bb097a0de10e63abe81fdef5ff505c11cded69df4bb84b1f87a563",
    "SessionOpened": "0x2bd7c890baf595977d256a6e784512c873ac58ba612b4895dbb7f784bfbf4839",
    "SessionClosed": "0x337fbb0a41a596db800dc836595a57815f967185e3596615c646f2455ac3914a",
    "UserWithdrawn": "0xe6b386172074b393dc04ed6cb1a352475ffad5dd8cebc76231a3b683141ea6fb",
    "DelegationRegistryUpdated": "0x836360d1b094a7de3c3eab3d1185f3a5939467c23d4a12709dbdbf8c8d7e2f3b",
}

SPEC_RULE_HASHES = {
    "DELEGATION_RULES_PROVIDER": "0x95f03c9db87c84e0b1043857b43822e60143b5fd222cbae6a58608238277e43b",
    "DELEGATION_RULES_MODEL": "0xdb1a8f53c9efd81b585fe5c55b156a15496e6ca1c7d55f21128c594fd4b3157a",
    "DELEGATION_RULES_MARKETPLACE": "0xe0e347f99bca6ace06441ab53f851efe66ec57205ae2812242ccddb7923a8a79",
    "DELEGATION_RULES_SESSION": "0xbb0b3346f3a62a3cf205ec3a488d79de48762f0ab35cbf72aaf290fde72d79f5",
}


def _compile_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "compile_contracts", REPO / "scripts" / "compile_contracts.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _canonical(item: dict[str, Any]) -> str:
    def typ(p: dict[str, Any]) -> str:
        t = str(p["type"])
        if t.startswith("tuple"):
            return "(" + ",".join(typ(c) for c in p["components"]) + ")" + t[len("tuple") :]
        return t

    return f"{item['name']}({','.join(typ(p) for p in item['inputs'])})"


def _by_kind(kind: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in load_artifact("LumerinDiamond").abi:
        if item["type"] == kind:
            digest = keccak(text=_canonical(item))
            out[item["name"]] = "0x" + (digest.hex() if kind == "event" else digest[:4].hex())
    return out


def test_artifacts_are_current_with_the_sources() -> None:
    digest = _compile_script().source_hash()
    for name in ARTIFACT_NAMES:
        art = load_artifact(name)
        assert art.source_hash == digest, f"{name} is stale: run scripts/compile_contracts.py"
        assert art.bytecode.startswith("0x") and len(art.bytecode) > 100
        assert art.deployed_bytecode.startswith("0x") and len(art.deployed_bytecode) > 100


def test_the_source_hash_changes_when_a_source_changes() -> None:
    mod = _compile_script()
    sources = mod.collect_sources()
    assert "contracts/diamond/SessionRouter.sol" in sources
    assert any(unit.startswith("@openzeppelin/contracts/") for unit in sources)
    touched = dict(sources)
    touched["contracts/diamond/SessionRouter.sol"] += "\n// edit\n"
    assert mod.source_hash(touched) != mod.source_hash(sources)


def test_every_spec_function_selector_is_exposed() -> None:
    ours = _by_kind("function")
    for name, sel in SPEC_FUNCTION_SELECTORS.items():
        assert ours.get(name) == sel, name


def test_every_spec_error_selector_matches() -> None:
    ours = _by_kind("error")
    for name, sel in SPEC_ERROR_SELECTORS.items():
        assert ours.get(name) == sel, name


def test_every_spec_event_topic_matches() -> None:
    ours = _by_kind("event")
    for name, topic in SPEC_EVENT_TOPICS.items():
        assert ours.get(name) == topic, name


def test_multicall3_and_token_abis_have_the_canonical_calls() -> None:
    def sels(name: str) -> set[str]:
        return {
            "0x" + keccak(text=_canonical(i))[:4].hex()
            for i in load_artifact(name).abi
            if i["type"] == "function"
        }

    # canonical Multicall3: aggregate3((address,bool,bytes)[]), aggregate((address,bytes)[])
    assert {"0x82ad56cb", "0x252dba42"} <= sels("Multicall3")
    # ERC-20 plus increaseAllowance, which the Go consumer calls
    assert {"0xa9059cbb", "0x095ea7b3", "0x23b872dd", "0x39509351"} <= sels("MorpheusToken")


def test_a_missing_artifact_is_a_clear_error() -> None:
    with pytest.raises(ArtifactError, match="missing"):
        load_artifact("NoSuchContract")


def test_artifact_files_have_the_documented_keys() -> None:
    data = json.loads((REPO / "resources" / "contracts" / "LumerinDiamond.json").read_text())
    assert {"abi", "bytecode", "sourceHash"} <= set(data)
