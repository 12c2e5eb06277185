"""Sessions on a real anvil: opening, settlement, on-hold stakes, provider claims and the limiter,
each checked against the independent Python formulas of app.market.economics (spec §3)."""

from __future__ import annotations

from eth_abi import encode as abi_encode
from eth_utils import keccak
from web3.logs import DISCARD

from app.chain.devnet import Devnet
from app.market.economics import claimable_for_provider, start_of_day
from tests.contracts.helpers import (
    DAY,
    MOR,
    Market,
    assert_panics,
    assert_reverts,
    assert_reverts_with_string,
    balances,
    close_session,
    economics,
    open_session,
    send,
    setup_market,
)
from tests.devnet_fixture import eip191_sign, encode_receipt


def _day_after_tomorrow(chain: Devnet) -> int:
    return start_of_day(chain.timestamp()) + 2 * DAY


def _session(m: Market, sid: bytes) -> tuple:  # type: ignore[type-arg]
    return tuple(m.diamond.functions.getSession(sid).call())


def test_staked_session_early_close_with_provider_receipt(chain: Devnet) -> None:
    m = setup_market(chain, price=10**13)
    f = m.diamond.functions
    funding = chain.network["fundingAccount"]
    t_open = _day_after_tomorrow(chain) + 10 * 3600
    econ = economics(m.diamond)
    amount = econ.stake_for_duration(m.price, 3600, t_open)  # what the Go consumer would send

    user_before = m.balance(m.user)
    sid = open_session(m, amount, t_open)
    nonces = [n for n in range(64) if f.getSessionId(m.user, m.provider, m.bid_id, n).call() == sid]
    assert len(nonces) == 1
    packed = bytes.fromhex(m.user[2:] + m.provider[2:]) + m.bid_id + nonces[0].to_bytes(32, "big")
    assert sid == keccak(packed)
    user, bid, stake, _, _, _, opened, ends, closed, active, direct = _session(m, sid)
    assert (user, bid, stake, opened, closed, active, direct) == (
        m.user,
        m.bid_id,
        amount,
        t_open,
        0,
        True,
        False,
    )
    assert ends == econ.session_end(amount, m.price, t_open)
    assert ends - t_open in (3599, 3600)  # spec §8 item 29: may be a second short
    assert m.balance(m.user) == user_before - amount
    assert sid in f.getUserSessions(m.user, 0, 10).call()[0]
    assert sid in f.getProviderSessions(m.provider, 0, 10).call()[0]
    assert sid in f.getModelSessions(m.model_id, 0, 10).call()[0]
    assert f.getTotalSessions(m.provider).call() == 1

    # the provider cannot close, only the user (or a SESSION delegate)
    t_close = t_open + 1800
    receipt_bytes = encode_receipt(sid, chain.chain_id, t_close, 25_000, 800)
    provider_sig = eip191_sign(m.provider_key, receipt_bytes)
    assert_reverts(
        f.closeSession(receipt_bytes, provider_sig),
        m.provider,
        "InsufficientRightsForOperation(address,address)",
    )

    econ = economics(m.diamond)
    expected = econ.settle_close(
        stake=amount, price=m.price, opened_at=t_open, ends_at=ends, closed_at=t_close
    )
    assert expected.user_on_hold > 0 and expected.provider_withheld == 0
    before = balances(m, m.user, m.provider, funding, m.diamond.address)
    close_session(m, sid, t_close, tps=25_000, ttft=800)
    after = balances(m, m.user, m.provider, funding, m.diamond.address)
    assert after[0] - before[0] == expected.user_refund
    assert after[1] - before[1] == expected.provider_due == 1800 * m.price
    assert before[2] - after[2] == expected.provider_due  # staked sessions are paid by funding
    assert before[3] - after[3] == expected.user_refund  # the on-hold part stays in the Diamond

    s = _session(m, sid)
    assert (s[4], s[5], s[8], s[9]) == (0, expected.provider_due, t_close, False)
    assert s[3] == encode_receipt(sid, chain.chain_id, t_close, 25_000, 800, 10, 20)
    assert f.getProvidersTotalClaimed().call() == econ.total_claimed + expected.provider_due
    assert f.getProviderModelStats(m.model_id, m.provider).call() == (
        (25_000, 0),
        (800, 0),
        1800,
        1,
        1,
    )
    assert f.getModelStats(m.model_id).call() == ((25_000, 0), (800, 0), (1800, 0), 1)
    assert_reverts(f.closeSession(receipt_bytes, provider_sig), m.user, "SessionAlreadyClosed()")

    # spec §8 item 6: a claim on the same UTC day as a fully paid early close underflows
    assert_panics(f.claimForProvider(sid), m.provider, 0x11)

    # the on-hold stake is released at the next UTC midnight, not before
    assert f.getUserStakesOnHold(m.user, 0).call() == [0, expected.user_on_hold]
    assert_reverts(f.withdrawUserStakes(m.user, 10), m.user, "SessionUserAmountToWithdrawIsZero()")
    assert expected.on_hold_release_at == start_of_day(t_close) + DAY
    chain.set_next_timestamp(expected.on_hold_release_at - 1)
    chain.mine()
    assert f.getUserStakesOnHold(m.user, 0).call() == [0, expected.user_on_hold]
    chain.set_next_timestamp(expected.on_hold_release_at)
    chain.mine()
    assert f.getUserStakesOnHold(m.user, 0).call() == [expected.user_on_hold, 0]
    before_withdraw = m.balance(m.user)
    receipt = send(f.withdrawUserStakes(m.user, 10), m.user)
    (event,) = m.diamond.events.UserWithdrawn().process_receipt(receipt, errors=DISCARD)
    assert event.args.amount_ == expected.user_on_hold
    assert m.balance(m.user) == before_withdraw + expected.user_on_hold
    assert m.balance(m.user) == user_before  # staked: the whole stake comes back; funding paid
    assert_reverts(f.withdrawUserStakes(m.user, 10), m.user, "SessionUserAmountToWithdrawIsZero()")


def test_disputed_early_close_across_midnight_withholds_todays_earnings(chain: Devnet) -> None:
    m = setup_market(chain, price=10**13)
    f = m.diamond.functions
    midnight = _day_after_tomorrow(chain)
    t_open, t_close = midnight - 2 * 3600, midnight + 3600
    amount = economics(m.diamond).stake_for_duration(m.price, 6 * 3600, t_open)
    sid = open_session(m, amount, t_open)
    ends = _session(m, sid)[7]
    econ = economics(m.diamond)
    expected = econ.settle_close(
        stake=amount, price=m.price, opened_at=t_open, ends_at=ends, closed_at=t_close, dispute=True
    )
    assert expected.provider_withheld == 3600 * m.price  # the part after midnight
    assert expected.provider_due == 2 * 3600 * m.price

    before = balances(m, m.user, m.provider)
    close_session(m, sid, t_close, signer_key=m.user_key, tps=1, ttft=1)  # user-signed: dispute
    after = balances(m, m.user, m.provider)
    assert after[0] - before[0] == expected.user_refund
    assert after[1] - before[1] == expected.provider_due
    assert f.getUserStakesOnHold(m.user, 0).call() == [0, expected.user_on_hold]
    s = _session(m, sid)
    assert s[4] == 1  # closeoutType: dispute
    assert f.getProviderModelStats(m.model_id, m.provider).call() == ((0, 0), (0, 0), 0, 0, 1)
    assert f.getModelStats(m.model_id).call()[3] == 0

    # the withheld part is claimable once the next UTC midnight has passed
    send(f.claimForProvider(sid), m.provider)  # same day: nothing to pay yet
    assert m.balance(m.provider) == after[1]
    chain.set_next_timestamp(midnight + DAY)
    chain.mine()
    now = chain.timestamp() + 1
    claim = claimable_for_provider(
        price=m.price, opened_at=t_open, ends_at=ends, closed_at=t_close, withdrawn=s[5], now=now
    )
    assert claim == expected.provider_withheld
    chain.set_next_timestamp(now)
    send(f.claimForProvider(sid), m.provider)
    assert m.balance(m.provider) == after[1] + expected.provider_withheld
    stranger = chain.account(7).address
    assert_reverts(
        f.claimForProvider(sid), stranger, "InsufficientRightsForOperation(address,address)"
    )


def test_late_close_and_provider_claim_of_an_unclosed_session(chain: Devnet) -> None:
    m = setup_market(chain, price=10**13)
    f = m.diamond.functions
    t_open = _day_after_tomorrow(chain) + 3600
    amount = economics(m.diamond).stake_for_duration(m.price, 900, t_open)
    sid_a = open_session(m, amount, t_open)
    sid_b = open_session(m, amount, t_open + 1, approval_ts=t_open - 5)
    ends_a, ends_b = _session(m, sid_a)[7], _session(m, sid_b)[7]
    assert ends_a - t_open in (899, 900)

    # before the end the provider can claim nothing
    send(f.claimForProvider(sid_b), m.provider)
    assert _session(m, sid_b)[5] == 0

    # after the end the provider collects session B without the user
    t_claim = ends_b + 100
    chain.set_next_timestamp(t_claim)
    before = m.balance(m.provider)
    send(f.claimForProvider(sid_b), m.provider)
    paid_b = (ends_b - (t_open + 1)) * m.price
    assert m.balance(m.provider) == before + paid_b
    assert _session(m, sid_b)[5] == paid_b

    # closing late returns the whole stake; the provider gets the full duration, once
    econ = economics(m.diamond)
    t_close = t_claim + 50
    expected = econ.settle_close(
        stake=amount, price=m.price, opened_at=t_open, ends_at=ends_a, closed_at=t_close
    )
    assert (expected.user_refund, expected.user_on_hold) == (amount, 0)
    before = balances(m, m.user, m.provider)
    close_session(m, sid_a, t_close)
    after = balances(m, m.user, m.provider)
    assert after[0] - before[0] == amount
    assert after[1] - before[1] == (ends_a - t_open) * m.price == expected.provider_due
    close_session(m, sid_b, t_close + 1, signer_key=m.user_key)  # a late dispute withholds nothing
    assert m.balance(m.provider) == after[1]  # already claimed
    assert _session(m, sid_b)[4] == 1
    assert m.balance(m.user) == after[0] + amount
    assert f.getUserStakesOnHold(m.user, 0).call() == [0, 0]


def test_direct_payment_session_pays_the_provider_from_escrow(chain: Devnet) -> None:
    m = setup_market(chain, price=10**13)
    funding = chain.network["fundingAccount"]
    t_open = _day_after_tomorrow(chain) + 3600
    amount = 100 * MOR
    econ = economics(m.diamond)
    sid = open_session(m, amount, t_open, direct=True)
    ends = _session(m, sid)[7]
    # spec §8 item 3: the duration still comes from the staking formula (~1/317 of amount/price)
    assert ends == econ.session_end(amount, m.price, t_open)
    assert ends - t_open < amount // m.price // 300
    t_close = t_open + 3600
    expected = economics(m.diamond).settle_close(
        stake=amount, price=m.price, opened_at=t_open, ends_at=ends, closed_at=t_close, direct=True
    )
    before = balances(m, m.user, m.provider, funding, m.diamond.address)
    close_session(m, sid, t_close)
    after = balances(m, m.user, m.provider, funding, m.diamond.address)
    assert (
        after[0] - before[0]
        == expected.user_refund
        == amount - 3600 * m.price - expected.user_on_hold
    )
    assert after[1] - before[1] == expected.provider_due == 3600 * m.price
    assert after[2] == before[2]  # the funding account is untouched
    assert before[3] - after[3] == expected.user_refund + expected.provider_due


def test_approvals_expired_for_another_chain_reused_or_forged_are_refused(chain: Devnet) -> None:
    m = setup_market(chain, price=10**13)
    f = m.diamond.functions
    t = _day_after_tomorrow(chain)
    amount = 20 * MOR

    def attempt(approval: bytes, sig: bytes, error: str, who: str | None = None) -> None:
        chain.set_next_timestamp(t)
        assert_reverts(f.openSession(m.user, amount, False, approval, sig), who or m.user, error)

    attempt(*m.approval(t - 601), "SessionApproveExpired()")
    attempt(*m.approval(t, chain_id=8453), "SessionApprovedForAnotherChainId()")
    attempt(*m.approval(t, key=m.user_key), "SessionProviderSignatureMismatch()")
    attempt(*m.approval(t, bid_id=b"\x13" * 32), "SessionBidNotFound()")
    approval, _ = m.approval(t)
    chain.set_next_timestamp(t)
    assert_reverts_with_string(
        f.openSession(m.user, amount, False, approval, b"\x01" * 64),
        m.user,
        "ECDSA: invalid signature length",
    )
    chain.set_next_timestamp(t)
    assert_reverts(
        f.openSession(m.user, 10**15, False, *m.approval(t)), m.user, "SessionTooShort()"
    )
    assert_reverts(
        f.openSession(m.user, amount, False, *m.approval(t)),
        m.provider,
        "InsufficientRightsForOperation(address,address)",
    )

    # exactly 600 s old still passes; a millisecond timestamp never expires (spec §4.4)
    open_session(m, amount, t, approval_ts=t - 600)
    ms_approval = m.approval((t - 5 * DAY) * 1000)
    chain.set_next_timestamp(t + 1)
    send(f.openSession(m.user, amount, False, *ms_approval), m.user)
    assert f.getIsProviderApprovalUsed(ms_approval[0]).call()
    chain.set_next_timestamp(t + 2)
    assert_reverts(
        f.openSession(m.user, amount, False, *ms_approval), m.user, "SessionDuplicateApproval()"
    )

    # any user may spend an approval (spec §8 item 2), but tokens always come from `user`
    other = chain.account(8).address
    chain.set_next_timestamp(t + 3)
    assert_reverts_with_string(
        f.openSession(other, amount, False, *m.approval(t + 3)),
        other,
        "ERC20: insufficient allowance",
    )


def test_receipts_for_another_chain_or_expired_are_refused(chain: Devnet) -> None:
    m = setup_market(chain, price=10**13)
    f = m.diamond.functions
    t = _day_after_tomorrow(chain)
    sid = open_session(m, 20 * MOR, t)
    t_close = t + 1000
    for receipt, error in (
        (encode_receipt(sid, 1, t_close), "SessionReceiptForAnotherChainId()"),
        (encode_receipt(sid, chain.chain_id, t_close - 601), "SessionReceiptExpired()"),
    ):
        chain.set_next_timestamp(t_close)
        assert_reverts(f.closeSession(receipt, eip191_sign(m.provider_key, receipt)), m.user, error)
    # the contract only reads five words: a 5-word receipt works like the Go node's 7-word one
    short = abi_encode(
        ["bytes32", "uint256", "uint128", "uint32", "uint32"], [sid, chain.chain_id, t_close, 5, 6]
    )
    chain.set_next_timestamp(t_close)
    send(f.closeSession(short, eip191_sign(m.provider_key, short)), m.user)
    assert _session(m, sid)[4] == 0


def test_provider_reward_limiter_caps_yearly_earnings_at_the_stake(chain: Devnet) -> None:
    stake = 2 * 10**17
    m = setup_market(chain, price=10**14, provider_stake=stake)
    f = m.diamond.functions
    t_open = _day_after_tomorrow(chain) + 3600
    amount = economics(m.diamond).stake_for_duration(m.price, 3600, t_open)
    sid = open_session(m, amount, t_open)
    ends = _session(m, sid)[7]
    earned_total = (ends - t_open) * m.price
    assert earned_total > stake

    before = m.balance(m.provider)
    close_session(m, sid, ends + 10)
    assert m.balance(m.provider) == before + stake  # capped at the provider's stake
    provider = f.getProvider(m.provider).call()
    assert provider[4] == stake  # limitPeriodEarned
    assert _session(m, sid)[5] == stake

    # after the next midnight the remainder is claimable but the period's cap is used up
    chain.set_next_timestamp(start_of_day(ends) + DAY)
    send(f.claimForProvider(sid), m.provider)
    assert m.balance(m.provider) == before + stake

    # deregistering inside the period refunds stake minus earnings (here: nothing)
    send(f.deleteModelBid(m.bid_id), m.provider)
    send(f.providerDeregister(m.provider), m.provider)
    assert m.balance(m.provider) == before + stake
    assert f.getProvider(m.provider).call()[1] == stake  # kept back as residual stake

    # a new 365-day period lets the provider collect the rest
    chain.time_travel(366 * DAY)
    send(f.claimForProvider(sid), m.provider)
    assert m.balance(m.provider) == before + earned_total
    assert _session(m, sid)[5] == earned_total
    provider = f.getProvider(m.provider).call()
    assert provider[4] == earned_total - stake


def _sd_add(sd: tuple[int, int], x: int, n: int) -> tuple[int, int]:
    mean, sq = sd
    new = mean + int((x - mean) / n)  # Solidity signed division truncates toward zero
    return new, sq + (x - new) * (x - mean)


def _sd_remove(sd: tuple[int, int], x: int, n: int) -> tuple[int, int]:
    if n == 0:
        return 0, 0
    mean, sq = sd
    new = mean - int((x - mean) / n)
    return new, sq - (x - new) * (x - mean)


def test_stats_follow_libsd_welford_updates(chain: Devnet) -> None:
    m = setup_market(chain, price=10**13)
    f = m.diamond.functions
    t = _day_after_tomorrow(chain) + 3600
    ps_tps = ps_ttft = ms_tps = ms_ttft = ms_dur = (0, 0)
    total_duration = 0
    for i, (tps, ttft, length) in enumerate(((1000, 300, 400), (2001, 901, 700), (998, 5, 350))):
        sid = open_session(m, 20 * MOR, t, approval_ts=t)
        close_session(m, sid, t + length, tps=tps, ttft=ttft)
        n = i + 1
        if i > 0:
            ms_tps = _sd_remove(ms_tps, ps_tps[0], 0)
            ms_ttft = _sd_remove(ms_ttft, ps_ttft[0], 0)
        total_duration += length
        ps_tps, ps_ttft = _sd_add(ps_tps, tps, n), _sd_add(ps_ttft, ttft, n)
        ms_dur = _sd_add(ms_dur, total_duration, 1)
        ms_tps, ms_ttft = _sd_add(ms_tps, ps_tps[0], 1), _sd_add(ms_ttft, ps_ttft[0], 1)
        assert f.getProviderModelStats(m.model_id, m.provider).call() == (
            ps_tps,
            ps_ttft,
            total_duration,
            n,
            n,
        )
        assert f.getModelStats(m.model_id).call() == (ms_tps, ms_ttft, ms_dur, 1)
        t += length + 10
    # by hand: 1500 + trunc(-502/3) = 1333 (floor division would give 1332)
    assert ps_tps == (1333, 501_501 + 335 * 502)


def test_a_provider_delegate_may_sign_approvals(chain: Devnet) -> None:
    from app.chain.artifacts import load_artifact

    m = setup_market(chain, price=10**13)
    registry = chain.w3.eth.contract(
        address=chain.network["delegateRegistry"], abi=load_artifact("DelegateRegistry").abi
    )
    signer = chain.account(6)
    t = _day_after_tomorrow(chain)
    approval = m.approval(t, key=bytes(signer.key))
    chain.set_next_timestamp(t)
    assert_reverts(
        m.diamond.functions.openSession(m.user, 20 * MOR, False, *approval),
        m.user,
        "SessionProviderSignatureMismatch()",
    )
    rule = keccak(text="delegation.rules.provider")
    send(
        registry.functions.delegateContract(signer.address, m.diamond.address, rule, True),
        m.provider,
    )
    chain.set_next_timestamp(t)
    send(m.diamond.functions.openSession(m.user, 20 * MOR, False, *approval), m.user)
    assert m.diamond.functions.getIsProviderApprovalUsed(approval[0]).call()


def test_a_contract_providers_owner_signs_for_it(chain: Devnet) -> None:
    from app.chain.artifacts import load_artifact

    m = setup_market(chain, price=10**13)  # reuse its model and user
    art = load_artifact("OwnedProviderMock")
    owner, outsider = chain.account(6), chain.account(7)
    factory = chain.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    tx = factory.constructor(owner.address).transact({"from": owner.address})
    address = chain.w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]
    wrapper = chain.w3.eth.contract(address=address, abi=art.abi)
    send(m.token.functions.transfer(address, 5 * MOR), owner.address)

    def via_contract(data: str) -> None:
        send(wrapper.functions.execute(m.diamond.address, data), owner.address)

    send(
        wrapper.functions.execute(
            m.token.address, m.token.encode_abi("approve", [m.diamond.address, 5 * MOR])
        ),
        owner.address,
    )
    via_contract(m.diamond.encode_abi("providerRegister", [address, 10**18, "c:1"]))
    via_contract(m.diamond.encode_abi("postModelBid", [address, m.model_id, m.price]))
    bid_id = m.diamond.functions.getBidId(address, m.model_id, 0).call()
    t = _day_after_tomorrow(chain)
    f = m.diamond.functions
    forged = m.approval(t, bid_id=bid_id, key=bytes(outsider.key))
    chain.set_next_timestamp(t)
    assert_reverts(
        f.openSession(m.user, 20 * MOR, False, *forged),
        m.user,
        "SessionProviderSignatureMismatch()",
    )
    chain.set_next_timestamp(t)
    receipt = send(
        f.openSession(m.user, 20 * MOR, False, *m.approval(t, bid_id=bid_id, key=bytes(owner.key))),
        m.user,
    )
    (event,) = m.diamond.events.SessionOpened().process_receipt(receipt, errors=DISCARD)
    assert event.args.providerId == address
