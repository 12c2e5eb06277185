"""ChainClient against the real devnet: every facet's happy path and main reverts, exact
approvals, typed MOR/allowance errors, the session lifecycle with its economics, and the batched
market load agreeing with one-by-one reads."""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from app.chain import ids
from app.chain.abi import DIAMOND
from app.chain.client import ChainClient
from app.chain.devnet import Devnet
from app.chain.errors import (
    BidPriceInvalid,
    ContractNotFound,
    InsufficientAllowance,
    InsufficientMor,
    MarketplaceActiveBidNotFound,
    MarketplaceProviderNotFound,
    ModelHasActiveBids,
    ProviderHasActiveBids,
    ProviderNotFound,
    ProviderStakeTooLow,
    SessionAlreadyClosed,
    SessionApproveExpired,
    SessionDuplicateApproval,
    SessionTooShort,
    SessionUserAmountToWithdrawIsZero,
    SessionWrongChain,
)
from app.chain.networks import network_from_dict
from app.chain.tx import SentTx
from app.market.economics import DAY, Economics, start_of_day
from app.market.economics import Pool as EconPool
from tests.chain.conftest import FAST
from tests.chain.signing import approval, receipt, sign

MOR = 10**18
PRICE = 10**13  # wei per second (devnet range 1e10..2e19)


async def setup_offer(client: ChainClient, provider: LocalAccount,
                      owner: LocalAccount | None = None) -> tuple[str, str]:
    """A registered provider and model with one active bid; returns (model_id, bid_id)."""
    owner = owner or provider
    await client.provider_register(provider, MOR, "127.0.0.1:3333")
    model_id, _ = await client.model_register(owner, b"\x07" * 32, MOR, "Tiny", ["llm"])
    bid_id, _ = await client.post_model_bid(provider, model_id, PRICE)
    return model_id, bid_id


async def read_economics(client: ChainClient) -> Economics:
    """The spec's formulas fed with the live on-chain inputs."""
    return Economics(
        pools=tuple(EconPool(p.initial_reward, p.reward_decrease, p.payout_start,
                             p.decrease_interval) for p in await client.pools()),
        total_claimed=await client.providers_total_claimed(),
        max_session_duration=await client.max_session_duration(),
    )


async def test_provider_registry(client: ChainClient, fresh_devnet: Devnet) -> None:
    prov = fresh_devnet.account(1)
    before = await client.mor_balance(prov.address)
    min_stake = await client.provider_min_stake()
    with pytest.raises(ProviderStakeTooLow) as low:
        await client.provider_register(prov, min_stake - 1, "host:1")
    assert low.value.args_decoded == (min_stake - 1, min_stake)
    assert "below the network minimum" in low.value.message

    sent: list[SentTx] = []
    await client.provider_register(prov, MOR, "10.0.0.1:3333", on_sent=sent.append)
    assert [s.description for s in sent] == ["approve MOR", "providerRegister"]
    p = await client.get_provider(prov.address)
    assert (p.endpoint, p.stake, p.is_active) == ("10.0.0.1:3333", MOR, True)
    assert p.limit_period_end == p.created_at + 365 * DAY
    assert await client.is_provider_active(prov.address)
    assert prov.address in await client.active_provider_addresses()
    assert await client.mor_balance(prov.address) == before - MOR
    assert await client.allowance(prov.address) == 0  # the exact approval was used up

    # amount 0 only updates the endpoint, and needs no approval
    sent.clear()
    await client.provider_register(prov, 0, "10.0.0.2:3333", on_sent=sent.append)
    assert [s.description for s in sent] == ["providerRegister"]
    assert (await client.get_provider(prov.address)).endpoint == "10.0.0.2:3333"

    await client.provider_deregister(prov)
    p = await client.get_provider(prov.address)
    assert p.is_deleted and not p.is_active
    assert await client.mor_balance(prov.address) == before  # nothing earned: full refund
    stranger = Account.create()
    with pytest.raises(ProviderNotFound):
        await client.tx.simulate(stranger.address, client.diamond,
                                 DIAMOND["providerDeregister"].encode(stranger.address))


async def test_models_and_bids(client: ChainClient, fresh_devnet: Devnet) -> None:
    prov = fresh_devnet.account(2)
    with pytest.raises(MarketplaceProviderNotFound):
        await client.post_model_bid(prov, "0x" + "ab" * 32, PRICE)
    model_id, bid_id = await setup_offer(client, prov)
    (on_chain_id,) = await client.call(DIAMOND["getModelId"], prov.address, b"\x07" * 32)
    assert model_id == "0x" + on_chain_id.hex()
    m = await client.get_model(model_id)
    assert (m.name, m.tags, m.owner, m.stake, m.is_active) == ("Tiny", ("llm",), prov.address,
                                                                MOR, True)
    assert model_id in await client.active_model_ids()
    bid = await client.get_bid(bid_id)
    assert (bid.provider, bid.model_id, bid.price_per_second, bid.nonce) == (
        prov.address, model_id, PRICE, 0)
    assert bid_id == ids.bid_id(prov.address, model_id, 0)
    assert await client.model_active_bid_ids(model_id) == [bid_id]

    _lo, hi = await client.price_range()
    with pytest.raises(BidPriceInvalid):
        await client.post_model_bid(prov, model_id, hi + 1)

    # re-posting replaces the bid (one active bid per provider and model)
    fee_before = await client.mor_balance(prov.address)
    bid2, _ = await client.post_model_bid(prov, model_id, PRICE * 2)
    assert bid2 == ids.bid_id(prov.address, model_id, 1)
    assert await client.mor_balance(prov.address) == fee_before - await client.bid_fee()
    assert not await client.is_bid_active(bid_id)
    assert await client.provider_active_bid_ids(prov.address) == [bid2]

    with pytest.raises(ModelHasActiveBids):
        await client.model_deregister(prov, model_id)
    with pytest.raises(ProviderHasActiveBids):
        await client.provider_deregister(prov)
    await client.delete_model_bid(prov, bid2)
    with pytest.raises(MarketplaceActiveBidNotFound):
        await client.delete_model_bid(prov, bid2)
    before = await client.mor_balance(prov.address)
    await client.model_deregister(prov, model_id)
    assert await client.mor_balance(prov.address) == before + MOR
    assert (await client.get_model(model_id)).is_deleted


async def test_insufficient_mor_and_allowance_are_typed(
    client: ChainClient, fresh_devnet: Devnet
) -> None:
    poor: LocalAccount = Account.create()
    fresh_devnet.rpc("anvil_setBalance", [poor.address, hex(MOR)])
    await client.transfer_mor(fresh_devnet.account(3), poor.address, MOR // 10)
    with pytest.raises(InsufficientMor) as info:
        await client.provider_register(poor, MOR, "h:1")
    assert info.value.missing == MOR - MOR // 10
    assert "0.9 MOR more is needed" in info.value.message
    assert await client.allowance(poor.address) == 0  # nothing approved for a doomed write

    # Straight to the contract without the client's approval step: the token's allowance
    # error comes back typed.
    rich = fresh_devnet.account(3)
    with pytest.raises(InsufficientAllowance) as allowance:
        await client.tx.send(rich, client.diamond,
                             DIAMOND["providerRegister"].encode(rich.address, MOR, "h:1"))
    assert "Approve" in allowance.value.message
    with pytest.raises(InsufficientMor):
        await client.transfer_mor(poor, rich.address, MOR)


async def test_approve_is_exact_and_skipped_when_enough(
    client: ChainClient, fresh_devnet: Devnet
) -> None:
    acct = fresh_devnet.account(4)
    assert await client.ensure_allowance(acct, 5 * MOR) is not None
    assert await client.allowance(acct.address) == 5 * MOR
    assert await client.ensure_allowance(acct, 3 * MOR) is None  # covered: no transaction
    await client.ensure_allowance(acct, 7 * MOR)
    assert await client.allowance(acct.address) == 7 * MOR
    with pytest.raises(Exception, match="exact amount"):
        await client.approve(acct, 2**256 - 1)


async def test_session_lifecycle_and_economics(client: ChainClient, fresh_devnet: Devnet) -> None:
    prov, user = fresh_devnet.account(5), fresh_devnet.account(6)
    model_id, bid_id = await setup_offer(client, prov)
    chain_id = fresh_devnet.chain_id
    econ = await read_economics(client)
    now = await client.latest_timestamp()
    # the contract's views equal the spec formulas
    assert await client.todays_budget(now) == econ.todays_budget(now)
    assert await client.total_mor_supply(now) == econ.total_supply(now)
    assert await client.stake_to_stipend(100 * MOR, now) == econ.stake_to_stipend(100 * MOR, now)
    assert await client.stipend_to_stake(MOR, now) == econ.stipend_to_stake(MOR, now)
    assert await client.session_end(100 * MOR, PRICE, now) == econ.session_end(100 * MOR,
                                                                                 PRICE, now)

    # open one hour's worth, away from a UTC midnight so "today" is unambiguous
    opened = start_of_day(now) + DAY + 3 * 3600
    stake = econ.stake_for_duration(PRICE, 3600, opened)
    appr = approval(bid_id, chain_id, user.address, opened)
    await client.ensure_allowance(user, stake)  # its own block, before the pinned timestamp
    user_before = await client.mor_balance(user.address)
    fresh_devnet.set_next_timestamp(opened)
    sent: list[SentTx] = []
    session_id, _ = await client.open_session(user, stake, appr, sign(prov, appr),
                                              on_sent=sent.append)
    assert [x.description for x in sent] == ["openSession"]  # allowance already sufficed
    s = await client.get_session(session_id)
    assert session_id == ids.session_id(user.address, prov.address, bid_id, 0)
    assert (s.user, s.bid_id, s.stake, s.opened_at, s.is_active) == (user.address, bid_id, stake,
                                                                    opened, True)
    assert s.ends_at == econ.session_end(stake, PRICE, opened)
    assert abs(s.ends_at - opened - 3600) <= 1
    assert await client.is_approval_used(appr)
    assert await client.user_session_ids(user.address) == [session_id]
    assert await client.provider_session_ids(prov.address) == [session_id]
    with pytest.raises(SessionDuplicateApproval):
        await client.open_session(user, stake, appr, sign(prov, appr))

    # close early with the provider's receipt: refund now, today's usage on hold
    closed = opened + 1200
    rc = receipt(session_id, chain_id, closed)
    fresh_devnet.set_next_timestamp(closed)
    prov_before = await client.mor_balance(prov.address)
    await client.close_session(user, rc, sign(prov, rc))
    expected = econ.settle_close(stake=stake, price=PRICE, opened_at=opened, ends_at=s.ends_at,
                                 closed_at=closed)
    assert await client.mor_balance(user.address) == user_before - stake + expected.user_refund
    assert await client.mor_balance(prov.address) == prov_before + expected.provider_due
    on_hold = await client.user_stakes_on_hold(user.address)
    assert (on_hold.available, on_hold.hold) == (0, expected.user_on_hold)
    closed_s = await client.get_session(session_id)
    assert closed_s.closed_at == closed and not closed_s.is_active and not closed_s.disputed
    stats = await client.provider_model_stats(model_id, prov.address)
    assert (stats.success_count, stats.total_count, stats.tps_scaled1000.mean) == (1, 1, 10_000)
    assert (await client.model_stats(model_id)).count == 1
    with pytest.raises(SessionAlreadyClosed):
        await client.close_session(user, rc, sign(prov, rc))
    with pytest.raises(SessionUserAmountToWithdrawIsZero):
        await client.withdraw_user_stakes(user)

    # after the next UTC midnight the held stake is released
    fresh_devnet.set_next_timestamp(start_of_day(closed) + DAY)
    fresh_devnet.mine()
    assert await client.user_stakes_on_hold(user.address) == replace(
        on_hold, available=expected.user_on_hold, hold=0)
    bal = await client.mor_balance(user.address)
    await client.withdraw_user_stakes(user)
    assert await client.mor_balance(user.address) == bal + expected.user_on_hold


@pytest.mark.parametrize(("late", "dispute"), [(False, True), (True, False), (True, True)],
                         ids=["early-user-signed", "late-provider-signed", "late-user-signed"])
async def test_close_payouts(client: ChainClient, fresh_devnet: Devnet, late: bool,
                             dispute: bool) -> None:
    prov, user = fresh_devnet.account(3), fresh_devnet.account(4)
    _, bid_id = await setup_offer(client, prov)
    econ = await read_economics(client)
    opened = start_of_day(await client.latest_timestamp()) + DAY + 3 * 3600
    stake = econ.stake_for_duration(PRICE, 3600, opened)
    await client.ensure_allowance(user, stake)
    appr = approval(bid_id, fresh_devnet.chain_id, user.address, opened)
    fresh_devnet.set_next_timestamp(opened)
    session_id, _ = await client.open_session(user, stake, appr, sign(prov, appr))
    s = await client.get_session(session_id)

    closed = s.ends_at + 120 if late else opened + 1200
    rc = receipt(session_id, fresh_devnet.chain_id, closed)
    user_before = await client.mor_balance(user.address)
    prov_before = await client.mor_balance(prov.address)
    fresh_devnet.set_next_timestamp(closed)
    await client.close_session(user, rc, sign(user if dispute else prov, rc))
    expected = econ.settle_close(stake=stake, price=PRICE, opened_at=opened, ends_at=s.ends_at,
                                 closed_at=closed, dispute=dispute)
    assert await client.mor_balance(user.address) == user_before + expected.user_refund
    assert await client.mor_balance(prov.address) == prov_before + expected.provider_due
    assert (await client.user_stakes_on_hold(user.address)).hold == expected.user_on_hold
    assert (await client.get_session(session_id)).disputed == dispute
    if late:
        assert expected.user_refund == stake and expected.user_on_hold == 0
        assert expected.provider_due == (s.ends_at - opened) * PRICE  # capped at endsAt
    if dispute and not late:
        # today's earnings were withheld; the provider collects them after UTC midnight
        assert expected.provider_withheld == 1200 * PRICE
        fresh_devnet.set_next_timestamp(start_of_day(closed) + DAY)
        fresh_devnet.mine()
        before = await client.mor_balance(prov.address)
        await client.claim_for_provider(prov, session_id)
        assert await client.mor_balance(prov.address) == before + expected.provider_withheld


async def test_bad_approvals_are_refused(client: ChainClient, fresh_devnet: Devnet) -> None:
    prov, user = fresh_devnet.account(7), fresh_devnet.account(8)
    _, bid_id = await setup_offer(client, prov)
    now = await client.latest_timestamp()
    chain_id = fresh_devnet.chain_id
    stake = 50 * MOR
    old = approval(bid_id, chain_id, user.address, now - 3600)
    with pytest.raises(SessionApproveExpired) as expired:
        await client.open_session(user, stake, old, sign(prov, old))
    assert "expired" in expired.value.message
    other = approval(bid_id, 8453, user.address, now)
    with pytest.raises(SessionWrongChain):
        await client.open_session(user, stake, other, sign(prov, other))
    tiny = approval(bid_id, chain_id, user.address, now)
    with pytest.raises(SessionTooShort):
        await client.open_session(user, 10**12, tiny, sign(prov, tiny))
    # none of the refused attempts moved the user's MOR or used the approval
    assert not await client.is_approval_used(tiny)


async def test_provider_claims_an_expired_session(
    client: ChainClient, fresh_devnet: Devnet
) -> None:
    prov, user = fresh_devnet.account(1), fresh_devnet.account(2)
    _, bid_id = await setup_offer(client, prov)
    now = await client.latest_timestamp()
    appr = approval(bid_id, fresh_devnet.chain_id, user.address, now)
    stake = 40 * MOR
    session_id, _ = await client.open_session(user, stake, appr, sign(prov, appr))
    s = await client.get_session(session_id)
    fresh_devnet.set_next_timestamp(s.ends_at + 10)
    fresh_devnet.mine()
    before = await client.mor_balance(prov.address)
    await client.claim_for_provider(prov, session_id)
    assert await client.mor_balance(prov.address) == before + (s.ends_at - s.opened_at) * PRICE
    assert (await client.get_session(session_id)).provider_withdrawn_amount == (
        (s.ends_at - s.opened_at) * PRICE)


async def test_load_market_matches_single_reads(client: ChainClient, fresh_devnet: Devnet) -> None:
    provs = [fresh_devnet.account(i) for i in (1, 2, 3)]
    model_id, _ = await setup_offer(client, provs[0])
    for p in provs[1:]:
        await client.provider_register(p, MOR, f"{p.address[:6]}:1")
        await client.post_model_bid(p, model_id, PRICE * 3)
    before = client.rpc.request_count
    snap = await client.load_market()
    assert client.rpc.request_count - before <= 4
    # (the shared devnet may hold other tests' committed state: compare what is ours)
    assert snap.model(model_id) == await client.get_model(model_id)
    assert {m.id for m in snap.models} == set(await client.active_model_ids())
    bids = await client.get_bids(await client.model_active_bid_ids(model_id))
    assert sorted(snap.bids_for_model(model_id), key=lambda b: b.id) == sorted(
        bids, key=lambda b: b.id)
    assert {p.address for p in provs} <= set(snap.providers)
    for p in provs:
        assert snap.providers[p.address] == await client.get_provider(p.address)
    assert snap.params == await client.market_params()
    assert len(snap.bids_for_model(model_id)) == 3


async def test_unknown_contract_at_address(fresh_devnet: Devnet) -> None:
    net = network_from_dict({**fresh_devnet.network, "diamond": "0x" + "42" * 20})
    client = ChainClient(net, policy=FAST)
    try:
        with pytest.raises(ContractNotFound) as info:
            await client.connect()
        assert "No Morpheus marketplace contract" in info.value.message
    finally:
        await client.close()


async def test_wallet_facing_helpers(client: ChainClient, fresh_devnet: Devnet) -> None:
    sender, other = fresh_devnet.account(1), fresh_devnet.account(2)
    assert client.chain_id == fresh_devnet.chain_id and client.explorer_url is None
    assert await client.mor_decimals() == 18
    eth_fee = await client.estimate_fee("ETH", sender.address, other.address, 10**15)
    mor_fee = await client.estimate_fee("MOR", sender.address, other.address, MOR)
    assert eth_fee.gas_limit >= 21_000 and mor_fee.gas_limit > eth_fee.gas_limit
    assert mor_fee.max_cost == mor_fee.gas_limit * mor_fee.max_fee_per_gas
    sent: list[SentTx] = []
    rec = await client.send_eth(sender, other.address, 10**15, on_sent=sent.append)
    assert await client.transaction_status(sent[0].tx_hash) == "confirmed"
    assert (await client.get_receipt(rec.tx_hash)) == rec
    assert await client.transaction_status("0x" + "00" * 32) == "pending"


async def test_load_market_without_multicall_uses_json_rpc_batches(
    client: ChainClient, fresh_devnet: Devnet
) -> None:
    prov = fresh_devnet.account(5)
    model_id, _ = await setup_offer(client, prov)
    with_multicall = await client.load_market()
    client.multicall = None  # e.g. a chain without Multicall3 at the configured address
    before = client.rpc.request_count
    plain = await client.load_market()
    assert plain == with_multicall
    assert client.rpc.request_count - before <= 6
    assert plain.bids_for_model(model_id)
