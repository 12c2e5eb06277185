"""Provider and model registries, the marketplace, owner-only setters and delegation on anvil."""

from __future__ import annotations

from eth_abi import decode as abi_decode
from eth_utils import keccak
from web3.logs import DISCARD

from app.chain.devnet import BID_FEE, MODEL_MIN_STAKE, PROVIDER_MIN_STAKE, Devnet
from tests.contracts.helpers import (
    MOR,
    assert_reverts,
    assert_reverts_with_string,
    send,
    setup_market,
)

PROVIDER_RULE = keccak(text="delegation.rules.provider")
SESSION_RULE = keccak(text="delegation.rules.session")


def test_devnet_is_configured_like_a_live_deployment(devnet: Devnet) -> None:
    f = devnet.diamond().functions
    assert f.getProviderMinimumStake().call() == PROVIDER_MIN_STAKE == 2 * 10**17
    assert f.getModelMinimumStake().call() == MODEL_MIN_STAKE == 10**17
    assert f.getBidFee().call() == BID_FEE == 3 * 10**17
    assert f.getMinMaxBidPricePerSecond().call() == [10**10, 2 * 10**19]
    assert f.getMaxSessionDuration().call() == 7 * 86_400
    assert f.getToken().call() == devnet.network["morToken"]
    assert f.getFundingAccount().call() == devnet.network["fundingAccount"]
    assert len(f.getPools().call()) == 5
    token = devnet.token()
    assert token.functions.decimals().call() == 18
    for addr in devnet.accounts:
        assert token.functions.balanceOf(addr).call() == 10_000 * MOR
        assert devnet.w3.eth.get_balance(addr) > 0
    funding = devnet.network["fundingAccount"]
    assert token.functions.allowance(funding, devnet.network["diamond"]).call() > 10**24
    assert len(devnet.w3.eth.get_code(devnet.network["multicall3"])) > 0


def test_provider_register_update_and_deregister(chain: Devnet) -> None:
    diamond, token = chain.diamond(), chain.token()
    f = diamond.functions
    provider = chain.account(5).address
    send(token.functions.approve(diamond.address, 10 * MOR), provider)

    args = assert_reverts(
        f.providerRegister(provider, 10**17, "h:1"),
        provider,
        "ProviderStakeTooLow(uint256,uint256)",
    )
    assert abi_decode(["uint256", "uint256"], args) == (10**17, PROVIDER_MIN_STAKE)
    assert_reverts(
        f.providerRegister(provider, MOR, "h:1"),
        chain.account(6).address,
        "InsufficientRightsForOperation(address,address)",
    )
    assert_reverts(f.providerDeregister(provider), provider, "ProviderNotFound()")

    before = token.functions.balanceOf(provider).call()
    receipt = send(f.providerRegister(provider, MOR, "host.example:3333"), provider)
    (event,) = diamond.events.ProviderRegistered().process_receipt(receipt, errors=DISCARD)
    assert event.args.provider == provider
    endpoint, stake, created, period_end, earned, deleted = f.getProvider(provider).call()
    assert (endpoint, stake, earned, deleted) == ("host.example:3333", MOR, 0, False)
    assert period_end == created + 365 * 86_400
    assert f.getIsProviderActive(provider).call()
    assert provider in f.getActiveProviders(0, 100).call()[0]

    send(f.providerRegister(provider, 0, "new.example:4444"), provider)  # endpoint-only update
    assert f.getProvider(provider).call()[:2] == ("new.example:4444", MOR)

    receipt = send(f.providerDeregister(provider), provider)
    assert diamond.events.ProviderDeregistered().process_receipt(receipt, errors=DISCARD)
    assert token.functions.balanceOf(provider).call() == before  # full refund, nothing earned
    assert not f.getIsProviderActive(provider).call()
    assert provider not in f.getActiveProviders(0, 100).call()[0]
    assert_reverts(f.providerDeregister(provider), provider, "ProviderHasAlreadyDeregistered()")


def test_model_register_and_deregister(chain: Devnet) -> None:
    diamond, token = chain.diamond(), chain.token()
    f = diamond.functions
    owner = chain.account(6).address
    base = b"\x42" * 32
    send(token.functions.approve(diamond.address, 10 * MOR), owner)
    model_id = f.getModelId(owner, base).call()
    assert model_id == keccak(bytes.fromhex(owner[2:]) + base)

    args = assert_reverts(
        f.modelRegister(owner, base, b"\0" * 32, 0, 10**16, "m", []),
        owner,
        "ModelStakeTooLow(uint256,uint256)",
    )
    assert abi_decode(["uint256", "uint256"], args) == (10**16, MODEL_MIN_STAKE)
    before = token.functions.balanceOf(owner).call()
    receipt = send(
        f.modelRegister(owner, base, b"\x01" * 32, 5, MOR, "Llama", ["llm", "tee"]), owner
    )
    event = diamond.events.ModelRegisteredUpdated().process_receipt(receipt, errors=DISCARD)[0]
    assert (event.args.owner, event.args.modelId) == (owner, model_id)
    cid, fee, stake, m_owner, name, tags, created, deleted = f.getModel(model_id).call()
    assert (cid, fee, stake, m_owner, name, tags, deleted) == (
        b"\x01" * 32,
        5,
        MOR,
        owner,
        "Llama",
        ["llm", "tee"],
        False,
    )
    assert created > 0
    assert model_id in f.getModelIds(0, 1000).call()[0]
    assert model_id in f.getActiveModelIds(0, 1000).call()[0]

    assert_reverts(
        f.modelDeregister(model_id),
        chain.account(7).address,
        "InsufficientRightsForOperation(address,address)",
    )
    send(f.modelDeregister(model_id), owner)
    assert token.functions.balanceOf(owner).call() == before
    assert not f.getIsModelActive(model_id).call()
    assert model_id in f.getModelIds(0, 1000).call()[0]  # deleted models stay listed
    assert model_id not in f.getActiveModelIds(0, 1000).call()[0]
    assert_reverts(f.modelDeregister(model_id), owner, "ModelHasAlreadyDeregistered()")


def test_bids_fee_replacement_and_deletion(chain: Devnet) -> None:
    m = setup_market(chain)
    diamond, f = m.diamond, m.diamond.functions
    assert m.bid_id == keccak(bytes.fromhex(m.provider[2:]) + m.model_id + (0).to_bytes(32, "big"))
    assert f.getBid(m.bid_id).call()[:4] == (m.provider, m.model_id, m.price, 0)
    assert f.isBidActive(m.bid_id).call()
    assert f.getFeeBalance().call() == BID_FEE

    assert_reverts(f.providerDeregister(m.provider), m.provider, "ProviderHasActiveBids()")
    model_owner = f.getModel(m.model_id).call()[3]
    assert_reverts(f.modelDeregister(m.model_id), model_owner, "ModelHasActiveBids()")
    assert_reverts(
        f.postModelBid(m.provider, m.model_id, 10**9),
        m.provider,
        "MarketplaceBidPricePerSecondInvalid()",
    )
    assert_reverts(
        f.postModelBid(m.provider, m.model_id, 3 * 10**19),
        m.provider,
        "MarketplaceBidPricePerSecondInvalid()",
    )
    assert_reverts(
        f.postModelBid(m.provider, b"\x09" * 32, 10**12), m.provider, "MarketplaceModelNotFound()"
    )
    stranger = chain.account(8).address
    assert_reverts(
        f.postModelBid(stranger, m.model_id, 10**12), stranger, "MarketplaceProviderNotFound()"
    )

    before = m.balance(m.provider)
    receipt = send(f.postModelBid(m.provider, m.model_id, 2 * 10**13), m.provider)
    assert m.balance(m.provider) == before - BID_FEE
    deleted = diamond.events.MarketplaceBidDeleted().process_receipt(receipt, errors=DISCARD)
    posted = diamond.events.MarketplaceBidPosted().process_receipt(receipt, errors=DISCARD)
    assert deleted[0].args.nonce == 0 and posted[0].args.nonce == 1
    new_bid = f.getBidId(m.provider, m.model_id, 1).call()
    assert not f.isBidActive(m.bid_id).call() and f.isBidActive(new_bid).call()
    assert f.getProviderActiveBids(m.provider, 0, 10).call() == [[new_bid], 1]
    assert f.getModelActiveBids(m.model_id, 0, 10).call() == [[new_bid], 1]
    assert f.getProviderBids(m.provider, 0, 10).call()[1] == 2
    assert f.getModelBids(m.model_id, 0, 0).call() == [[], 2]  # limit 0 reads the total
    assert f.getModelBids(m.model_id, 1, 10).call() == [[new_bid], 2]
    assert f.getModelBids(m.model_id, 5, 10).call() == [[], 2]

    send(f.deleteModelBid(new_bid), m.provider)
    assert m.balance(m.provider) == before - BID_FEE  # the fee is not refunded
    assert_reverts(f.deleteModelBid(new_bid), m.provider, "MarketplaceActiveBidNotFound()")
    assert f.getBid(new_bid).call()[5] > 0

    # the owner collects fees; the amount is capped at the balance
    owner = chain.account(0).address
    assert_reverts(f.withdrawFee(owner, 1), m.provider, "OwnableUnauthorizedAccount(address)")
    owner_before = m.balance(owner)
    send(f.withdrawFee(owner, 10**30), owner)
    assert m.balance(owner) == owner_before + 2 * BID_FEE
    assert_reverts(f.withdrawFee(owner, 1), owner, "MarketplaceFeeAmountIsZero()")


def test_owner_only_setters_and_their_events(chain: Devnet) -> None:
    diamond = chain.diamond()
    f = diamond.functions
    owner, other = chain.account(0).address, chain.account(9).address
    assert f.owner().call() == owner
    for fn in (
        f.providerSetMinStake(1),
        f.modelSetMinStake(1),
        f.setMarketplaceBidFee(1),
        f.setMinMaxBidPricePerSecond(1, 2),
        f.setRegistry(other),
        f.setMaxSessionDuration(3600),
    ):
        data = assert_reverts(fn, other, "OwnableUnauthorizedAccount(address)")
        assert abi_decode(["address"], data) == (other.lower(),)
    receipt = send(f.setMarketplaceBidFee(7), owner)
    (event,) = diamond.events.MaretplaceFeeUpdated().process_receipt(receipt, errors=DISCARD)
    assert event.args.bidFee == 7
    assert f.getBidFee().call() == 7
    receipt = send(f.providerSetMinStake(11), owner)
    assert diamond.events.ProviderMinimumStakeUpdated().process_receipt(receipt, errors=DISCARD)
    receipt = send(f.modelSetMinStake(12), owner)
    assert diamond.events.ModelMinimumStakeUpdated().process_receipt(receipt, errors=DISCARD)
    assert_reverts(
        f.setMinMaxBidPricePerSecond(0, 5), owner, "MarketplaceBidMinPricePerSecondIsZero()"
    )
    assert_reverts(
        f.setMinMaxBidPricePerSecond(6, 5), owner, "MarketplaceBidMinPricePerSecondIsInvalid()"
    )
    receipt = send(f.setMinMaxBidPricePerSecond(5, 6), owner)
    assert diamond.events.MarketplaceBidMinMaxPriceUpdated().process_receipt(
        receipt, errors=DISCARD
    )
    assert f.getMinMaxBidPricePerSecond().call() == [5, 6]
    assert_reverts_with_string(
        f.__Marketplace_init(chain.network["morToken"], 1, 2),
        owner,
        "Initializable: contract is already initialized",
    )
    assert_reverts_with_string(
        f.transferOwnership("0x" + "00" * 20), owner, "DiamondOwnable: zero address owner"
    )


def test_delegation_rules_and_delegate_access(chain: Devnet) -> None:
    diamond = chain.diamond()
    f = diamond.functions
    assert f.DELEGATION_RULES_PROVIDER().call() == PROVIDER_RULE
    assert f.DELEGATION_RULES_SESSION().call() == SESSION_RULE
    assert f.DELEGATION_RULES_MODEL().call() == keccak(text="delegation.rules.model")
    assert f.DELEGATION_RULES_MARKETPLACE().call() == keccak(text="delegation.rules.marketplace")
    registry = chain.w3.eth.contract(
        address=chain.network["delegateRegistry"],
        abi=__import__("app.chain.artifacts", fromlist=["x"]).load_artifact("DelegateRegistry").abi,
    )
    provider, delegate = chain.account(5).address, chain.account(6).address
    assert f.getRegistry().call() == chain.network["delegateRegistry"]
    assert not f.isRightsDelegated(delegate, provider, PROVIDER_RULE).call()
    send(
        registry.functions.delegateContract(delegate, diamond.address, PROVIDER_RULE, True),
        provider,
    )
    assert f.isRightsDelegated(delegate, provider, PROVIDER_RULE).call()
    assert not f.isRightsDelegated(delegate, provider, SESSION_RULE).call()

    # the delegate registers the provider; the stake still comes from the provider
    send(chain.token().functions.approve(diamond.address, MOR), provider)
    send(f.providerRegister(provider, MOR, "d:1"), delegate)
    assert f.getProvider(provider).call()[1] == MOR

    # with no registry nobody is a delegate
    receipt = send(f.setRegistry("0x" + "00" * 20), chain.account(0).address)
    assert diamond.events.DelegationRegistryUpdated().process_receipt(receipt, errors=DISCARD)
    assert not f.isRightsDelegated(delegate, provider, PROVIDER_RULE).call()
    assert_reverts(
        f.providerRegister(provider, 0, "d:2"),
        delegate,
        "InsufficientRightsForOperation(address,address)",
    )


def test_multicall3_batches_diamond_reads(devnet: Devnet) -> None:
    from app.chain.artifacts import load_artifact

    diamond = devnet.diamond()
    mc = devnet.w3.eth.contract(
        address=devnet.network["multicall3"], abi=load_artifact("Multicall3").abi
    )
    calls = [
        (diamond.address, False, diamond.encode_abi("getBidFee", [])),
        (diamond.address, True, diamond.encode_abi("getPool", [99])),  # out of range: fails
        (diamond.address, False, diamond.encode_abi("getProviderMinimumStake", [])),
    ]
    results = mc.functions.aggregate3(calls).call()
    assert [ok for ok, _ in results] == [True, False, True]
    assert int.from_bytes(results[0][1], "big") == BID_FEE
    assert int.from_bytes(results[2][1], "big") == PROVIDER_MIN_STAKE
    _, plain = mc.functions.aggregate([(diamond.address, calls[0][2])]).call()
    assert int.from_bytes(plain[0], "big") == BID_FEE
