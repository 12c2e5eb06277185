// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

import {Marketplace} from "./Marketplace.sol";
import {LibSD} from "../libs/LibSD.sol";
import {Paginator} from "../libs/Paginator.sol";
import {LinearDistributionIntervalDecrease} from "../libs/LinearDistributionIntervalDecrease.sol";

/// @notice Session router facet (spec §2.6, §3): staked and direct-pay sessions, settlement,
/// on-hold user stakes, provider claims under the 365-day limiter, and reputation stats.
abstract contract SessionRouter is Marketplace {
    using EnumerableSet for EnumerableSet.Bytes32Set;
    using Paginator for EnumerableSet.Bytes32Set;
    using LibSD for LibSD.SD;

    error SessionProviderSignatureMismatch();
    error SessionApproveExpired();
    error SessionApprovedForAnotherChainId();
    error SessionDuplicateApproval();
    error SessionReceiptForAnotherChainId();
    error SessionReceiptExpired();
    error SessionTooShort();
    error SessionAlreadyClosed();
    error SessionBidNotFound();
    error SessionPoolIndexOutOfBounds();
    error SessionUserAmountToWithdrawIsZero();
    error SessionMaxDurationTooShort();
    error SessionStakeTooLow();
    error SessionApprovedForAnotherUser();
    error SessionNotEndedOrNotExist();
    error SessionProviderNothingToClaimInThisPeriod();

    event SessionOpened(address indexed user, bytes32 indexed sessionId, address indexed providerId);
    event SessionClosed(address indexed user, bytes32 indexed sessionId, address indexed providerId);
    event UserWithdrawn(address indexed user, uint256 amount_);

    struct Session {
        address user;
        bytes32 bidId;
        uint256 stake;
        bytes closeoutReceipt;
        uint256 closeoutType;
        uint256 providerWithdrawnAmount;
        uint128 openedAt;
        uint128 endsAt;
        uint128 closedAt;
        bool isActive;
        bool isDirectPaymentFromUser;
    }

    struct OnHold {
        uint256 amount;
        uint128 releaseAt;
    }

    struct Pool {
        uint256 initialReward;
        uint256 rewardDecrease;
        uint128 payoutStart;
        uint128 decreaseInterval;
    }

    struct ProviderModelStats {
        LibSD.SD tpsScaled1000;
        LibSD.SD ttftMs;
        uint32 totalDuration;
        uint32 successCount;
        uint32 totalCount;
    }

    struct ModelStats {
        LibSD.SD tpsScaled1000;
        LibSD.SD ttftMs;
        LibSD.SD totalDuration;
        uint32 count;
    }

    uint32 public constant MIN_SESSION_DURATION = 5 minutes;
    uint32 public constant SIGNATURE_TTL = 10 minutes;
    uint256 public constant COMPUTE_POOL_INDEX = 3;

    address internal _fundingAccount;
    uint128 internal _maxSessionDuration;
    Pool[] internal _pools;
    uint256 internal _sessionNonce;
    uint256 internal _providersTotalClaimed;
    mapping(bytes32 => Session) internal _sessions;
    mapping(address => EnumerableSet.Bytes32Set) internal _userSessions;
    mapping(address => EnumerableSet.Bytes32Set) internal _providerSessions;
    mapping(bytes32 => EnumerableSet.Bytes32Set) internal _modelSessions;
    mapping(address => OnHold[]) internal _userStakesOnHold;
    mapping(bytes => bool) internal _isProviderApprovalUsed;
    mapping(bytes32 => mapping(address => ProviderModelStats)) internal _providerModelStats;
    mapping(bytes32 => ModelStats) internal _modelStats;

    function __SessionRouter_init(
        address fundingAccount_,
        uint128 maxSessionDuration_,
        Pool[] calldata pools_
    ) external onlyOwner onlyInitializing(keccak256("diamond.standard.sessions.storage")) {
        _fundingAccount = fundingAccount_;
        _setMaxSessionDuration(maxSessionDuration_);
        for (uint256 i = 0; i < pools_.length; ++i) {
            _pools.push(pools_[i]);
        }
    }

    // ---------------------------------------------------------------- owner

    function setPoolConfig(uint256 index_, Pool calldata pool_) external onlyOwner {
        if (index_ >= _pools.length) {
            revert SessionPoolIndexOutOfBounds();
        }
        _pools[index_] = pool_;
    }

    function setMaxSessionDuration(uint128 maxSessionDuration_) external onlyOwner {
        _setMaxSessionDuration(maxSessionDuration_);
    }

    function _setMaxSessionDuration(uint128 maxSessionDuration_) private {
        if (maxSessionDuration_ < MIN_SESSION_DURATION) {
            revert SessionMaxDurationTooShort();
        }
        _maxSessionDuration = maxSessionDuration_;
    }

    // ---------------------------------------------------------------- open

    function openSession(
        address user_,
        uint256 amount_,
        bool isDirectPaymentFromUser_,
        bytes calldata approvalEncoded_,
        bytes calldata signature_
    ) external returns (bytes32) {
        _onlyAccount(user_, DELEGATION_RULES_SESSION);
        bytes32 bidId = _extractProviderApproval(approvalEncoded_);
        bytes32 sessionId = getSessionId(user_, _bids[bidId].provider, bidId, _sessionNonce++);
        SafeERC20.safeTransferFrom(_token, user_, address(this), amount_);

        Session storage session = _sessions[sessionId];
        session.user = user_;
        session.stake = amount_;
        session.bidId = bidId;
        session.openedAt = uint128(block.timestamp);

        session.endsAt = _validateSession(bidId, amount_, isDirectPaymentFromUser_, approvalEncoded_, signature_);
        session.isActive = true;
        session.isDirectPaymentFromUser = isDirectPaymentFromUser_;
        _isProviderApprovalUsed[approvalEncoded_] = true;

        _indexSession(sessionId, user_, bidId);
        return sessionId;
    }

    function _indexSession(bytes32 sessionId_, address user_, bytes32 bidId_) private {
        Bid storage bid = _bids[bidId_];
        _userSessions[user_].add(sessionId_);
        _providerSessions[bid.provider].add(sessionId_);
        _modelSessions[bid.modelId].add(sessionId_);
        emit SessionOpened(user_, sessionId_, bid.provider);
    }

    function _extractProviderApproval(bytes calldata approval_) private view returns (bytes32) {
        (bytes32 bidId, uint256 chainId, , uint128 timestamp) = abi.decode(
            approval_,
            (bytes32, uint256, address, uint128)
        );
        if (chainId != block.chainid) {
            revert SessionApprovedForAnotherChainId();
        }
        if (block.timestamp > uint256(timestamp) + SIGNATURE_TTL) {
            revert SessionApproveExpired();
        }
        return bidId;
    }

    function _validateSession(
        bytes32 bidId_,
        uint256 amount_,
        bool isDirectPaymentFromUser_,
        bytes calldata approvalEncoded_,
        bytes calldata signature_
    ) private view returns (uint128) {
        if (!isBidActive(bidId_)) {
            revert SessionBidNotFound();
        }
        Bid storage bid = _bids[bidId_];
        if (!_isValidProviderSignature(bid.provider, approvalEncoded_, signature_)) {
            revert SessionProviderSignatureMismatch();
        }
        if (_isProviderApprovalUsed[approvalEncoded_]) {
            revert SessionDuplicateApproval();
        }
        uint128 endsAt = getSessionEnd(amount_, bid.pricePerSecond, uint128(block.timestamp));
        if (endsAt - block.timestamp < MIN_SESSION_DURATION) {
            revert SessionTooShort();
        }
        if (isDirectPaymentFromUser_ && (endsAt - block.timestamp) * bid.pricePerSecond > amount_) {
            revert SessionStakeTooLow();
        }
        return endsAt;
    }

    // ---------------------------------------------------------------- close

    function closeSession(bytes calldata receiptEncoded_, bytes calldata signature_) external {
        (bytes32 sessionId, uint32 tpsScaled1000, uint32 ttftMs) = _extractProviderReceipt(receiptEncoded_);

        Session storage session = _sessions[sessionId];
        Bid storage bid = _bids[session.bidId];

        _onlyAccount(session.user, DELEGATION_RULES_SESSION);
        if (session.closedAt != 0) {
            revert SessionAlreadyClosed();
        }

        session.isActive = false;
        session.closeoutReceipt = receiptEncoded_;
        session.closedAt = uint128(block.timestamp);

        bool noDispute = _isValidProviderSignature(bid.provider, receiptEncoded_, signature_);

        _rewardUserAfterClose(session, bid);
        _rewardProviderAfterClose(noDispute, session, bid);
        _setStats(noDispute, tpsScaled1000, ttftMs, session, bid);

        emit SessionClosed(session.user, sessionId, bid.provider);
    }

    function _extractProviderReceipt(bytes calldata receipt_) private view returns (bytes32, uint32, uint32) {
        (bytes32 sessionId, uint256 chainId, uint128 timestamp, uint32 tps, uint32 ttft) = abi.decode(
            receipt_,
            (bytes32, uint256, uint128, uint32, uint32)
        );
        if (chainId != block.chainid) {
            revert SessionReceiptForAnotherChainId();
        }
        if (block.timestamp > uint256(timestamp) + SIGNATURE_TTL) {
            revert SessionReceiptExpired();
        }
        return (sessionId, tps, ttft);
    }

    function _rewardUserAfterClose(Session storage session, Bid storage bid) private {
        uint128 startOfToday = startOfTheDay(uint128(block.timestamp));
        bool isClosingLate = uint128(block.timestamp) >= session.endsAt;

        uint256 userStake = session.stake;
        if (session.isDirectPaymentFromUser) {
            userStake -= (_min(session.closedAt, session.endsAt) - session.openedAt) * bid.pricePerSecond;
        }

        uint256 onHold = 0;
        if (!isClosingLate) {
            uint256 todaysCost = (block.timestamp - _max(session.openedAt, startOfToday)) * bid.pricePerSecond;
            onHold = stipendToStake(todaysCost, startOfToday);
            if (onHold > userStake) {
                onHold = userStake;
            }
            _userStakesOnHold[session.user].push(OnHold(onHold, startOfToday + 1 days));
        }

        SafeERC20.safeTransfer(_token, session.user, userStake - onHold);
    }

    function _rewardProviderAfterClose(bool noDispute_, Session storage session, Bid storage bid) private {
        uint128 startOfToday = startOfTheDay(uint128(block.timestamp));
        bool isClosingLate = uint128(block.timestamp) >= session.endsAt;

        uint256 reward = (_min(session.closedAt, session.endsAt) - session.openedAt) *
            bid.pricePerSecond -
            session.providerWithdrawnAmount;
        uint256 withheld = 0;
        if (!noDispute_ && !isClosingLate) {
            withheld = (block.timestamp - _max(startOfToday, session.openedAt)) * bid.pricePerSecond;
        }
        _claimForProvider(session, bid.provider, reward - withheld);
    }

    function _setStats(
        bool noDispute_,
        uint32 tpsScaled1000_,
        uint32 ttftMs_,
        Session storage session,
        Bid storage bid
    ) private {
        ProviderModelStats storage ps = _providerModelStats[bid.modelId][bid.provider];
        ModelStats storage ms = _modelStats[bid.modelId];

        ps.totalCount++;

        if (!noDispute_) {
            session.closeoutType = 1;
            return;
        }

        if (ps.successCount > 0) {
            ms.tpsScaled1000.remove(int32(ps.tpsScaled1000.mean), int32(ms.count - 1));
            ms.ttftMs.remove(int32(ps.ttftMs.mean), int32(ms.count - 1));
        } else {
            ms.count++;
        }

        ps.successCount++;
        ps.totalDuration += uint32(session.closedAt - session.openedAt);
        ps.tpsScaled1000.add(int32(tpsScaled1000_), int32(ps.successCount));
        ps.ttftMs.add(int32(ttftMs_), int32(ps.successCount));

        ms.totalDuration.add(int32(ps.totalDuration), int32(ms.count));
        ms.tpsScaled1000.add(int32(ps.tpsScaled1000.mean), int32(ms.count));
        ms.ttftMs.add(int32(ps.ttftMs.mean), int32(ms.count));
    }

    // ---------------------------------------------------------------- provider claims

    function claimForProvider(bytes32 sessionId_) external {
        Session storage session = _sessions[sessionId_];
        Bid storage bid = _bids[session.bidId];
        _onlyAccount(bid.provider, DELEGATION_RULES_SESSION);

        uint256 sessionEnd = session.closedAt == 0 ? session.endsAt : _min(session.closedAt, session.endsAt);
        uint256 rewards = 0;
        if (block.timestamp >= sessionEnd) {
            rewards = (sessionEnd - session.openedAt) * bid.pricePerSecond - session.providerWithdrawnAmount;
        }
        uint256 held = 0;
        uint128 closedStart = startOfTheDay(session.closedAt);
        if (block.timestamp < uint256(closedStart) + 1 days) {
            held = (session.closedAt - _max(closedStart, session.openedAt)) * bid.pricePerSecond;
        }
        _claimForProvider(session, bid.provider, rewards - held);
    }

    /// @dev Pays at most the provider's stake per 365-day period; the rest stays claimable.
    function _claimForProvider(Session storage session, address provider_, uint256 amount_) private {
        Provider storage provider = _providers[provider_];
        if (block.timestamp > provider.limitPeriodEnd) {
            provider.limitPeriodEnd = uint128(block.timestamp) + PROVIDER_REWARD_LIMITER_PERIOD;
            provider.limitPeriodEarned = 0;
        }
        uint256 cap = provider.stake - provider.limitPeriodEarned;
        uint256 pay = amount_ < cap ? amount_ : cap;
        if (pay == 0) {
            return;
        }
        session.providerWithdrawnAmount += pay;
        provider.limitPeriodEarned += pay;
        _providersTotalClaimed += pay;

        if (session.isDirectPaymentFromUser) {
            SafeERC20.safeTransfer(_token, provider_, pay);
        } else {
            SafeERC20.safeTransferFrom(_token, _fundingAccount, provider_, pay);
        }
    }

    // ---------------------------------------------------------------- user on-hold stakes

    function withdrawUserStakes(address user_, uint8 iterations_) external {
        _onlyAccount(user_, DELEGATION_RULES_SESSION);
        OnHold[] storage onHold = _userStakesOnHold[user_];
        uint256 count = iterations_ > onHold.length ? onHold.length : iterations_;
        if (count == 0) {
            revert SessionUserAmountToWithdrawIsZero();
        }
        uint256 total = 0;
        uint256 removed = 0;
        uint256 i = onHold.length;
        while (i > 0 && removed < count) {
            --i;
            if (block.timestamp < onHold[i].releaseAt) {
                continue;
            }
            total += onHold[i].amount;
            onHold[i] = onHold[onHold.length - 1];
            onHold.pop();
            ++removed;
        }
        if (total == 0) {
            revert SessionUserAmountToWithdrawIsZero();
        }
        SafeERC20.safeTransfer(_token, user_, total);
        emit UserWithdrawn(user_, total);
    }

    function getUserStakesOnHold(
        address user_,
        uint8 /* iterations_ (ignored, as on the live network) */
    ) external view returns (uint256 available, uint256 hold) {
        OnHold[] storage onHold = _userStakesOnHold[user_];
        for (uint256 i = 0; i < onHold.length; ++i) {
            if (block.timestamp >= onHold[i].releaseAt) {
                available += onHold[i].amount;
            } else {
                hold += onHold[i].amount;
            }
        }
    }

    // ---------------------------------------------------------------- economics views

    function getSessionId(
        address user_,
        address provider_,
        bytes32 bidId_,
        uint256 sessionNonce_
    ) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(user_, provider_, bidId_, sessionNonce_));
    }

    function getSessionEnd(uint256 amount_, uint256 pricePerSecond_, uint128 openedAt_) public view returns (uint128) {
        uint128 duration = uint128(stakeToStipend(amount_, openedAt_) / pricePerSecond_);
        if (duration > _maxSessionDuration) {
            duration = _maxSessionDuration;
        }
        return openedAt_ + duration;
    }

    function stakeToStipend(uint256 amount_, uint128 timestamp_) public view returns (uint256) {
        uint256 supply = totalMORSupply(timestamp_);
        if (supply == 0) {
            return 0;
        }
        return (amount_ * getComputeBalance(timestamp_)) / (supply * 100);
    }

    function stipendToStake(uint256 stipend_, uint128 timestamp_) public view returns (uint256) {
        uint256 computeBalance = getComputeBalance(timestamp_);
        if (computeBalance == 0) {
            return 0;
        }
        return (stipend_ * totalMORSupply(timestamp_) * 100) / computeBalance;
    }

    function getTodaysBudget(uint128 timestamp_) external view returns (uint256) {
        return getComputeBalance(timestamp_) / 100;
    }

    function getComputeBalance(uint128 timestamp_) public view returns (uint256) {
        Pool storage pool = _pools[COMPUTE_POOL_INDEX];
        uint256 reward = LinearDistributionIntervalDecrease.getPeriodReward(
            pool.initialReward,
            pool.rewardDecrease,
            pool.payoutStart,
            pool.decreaseInterval,
            pool.payoutStart,
            startOfTheDay(timestamp_)
        );
        return reward - _providersTotalClaimed;
    }

    function totalMORSupply(uint128 timestamp_) public view returns (uint256) {
        uint256 total = _providersTotalClaimed;
        for (uint256 i = 0; i < _pools.length; ++i) {
            if (i == COMPUTE_POOL_INDEX) {
                continue;
            }
            Pool storage pool = _pools[i];
            total += LinearDistributionIntervalDecrease.getPeriodReward(
                pool.initialReward,
                pool.rewardDecrease,
                pool.payoutStart,
                pool.decreaseInterval,
                pool.payoutStart,
                startOfTheDay(timestamp_)
            );
        }
        return total;
    }

    function startOfTheDay(uint128 timestamp_) public pure returns (uint128) {
        return timestamp_ - (timestamp_ % 1 days);
    }

    // ---------------------------------------------------------------- storage views

    function getSession(bytes32 sessionId_) external view returns (Session memory) {
        return _sessions[sessionId_];
    }

    function getUserSessions(
        address user_,
        uint256 offset_,
        uint256 limit_
    ) external view returns (bytes32[] memory, uint256) {
        return _userSessions[user_].part(offset_, limit_);
    }

    function getProviderSessions(
        address provider_,
        uint256 offset_,
        uint256 limit_
    ) external view returns (bytes32[] memory, uint256) {
        return _providerSessions[provider_].part(offset_, limit_);
    }

    function getModelSessions(
        bytes32 modelId_,
        uint256 offset_,
        uint256 limit_
    ) external view returns (bytes32[] memory, uint256) {
        return _modelSessions[modelId_].part(offset_, limit_);
    }

    function getPools() external view returns (Pool[] memory) {
        return _pools;
    }

    function getPool(uint256 index_) external view returns (Pool memory) {
        return _pools[index_];
    }

    function getFundingAccount() external view returns (address) {
        return _fundingAccount;
    }

    function getTotalSessions(address provider_) external view returns (uint256) {
        return _providerSessions[provider_].length();
    }

    function getProvidersTotalClaimed() external view returns (uint256) {
        return _providersTotalClaimed;
    }

    function getIsProviderApprovalUsed(bytes calldata approval_) external view returns (bool) {
        return _isProviderApprovalUsed[approval_];
    }

    function getMaxSessionDuration() external view returns (uint128) {
        return _maxSessionDuration;
    }

    function getProviderModelStats(
        bytes32 modelId_,
        address provider_
    ) external view returns (ProviderModelStats memory) {
        return _providerModelStats[modelId_][provider_];
    }

    function getModelStats(bytes32 modelId_) external view returns (ModelStats memory) {
        return _modelStats[modelId_];
    }

    // ---------------------------------------------------------------- signatures

    /// @dev The provider itself, its PROVIDER delegate, or owner() of a contract provider may sign.
    function _isValidProviderSignature(
        address provider_,
        bytes calldata message_,
        bytes calldata signature_
    ) private view returns (bool) {
        bytes32 digest = ECDSA.toEthSignedMessageHash(keccak256(message_));
        address signer = ECDSA.recover(digest, signature_);
        if (signer == provider_ || isRightsDelegated(signer, provider_, DELEGATION_RULES_PROVIDER)) {
            return true;
        }
        if (provider_.code.length > 0) {
            (bool ok, bytes memory ret) = provider_.staticcall(abi.encodeWithSignature("owner()"));
            if (ok && ret.length == 32 && abi.decode(ret, (address)) == signer) {
                return true;
            }
        }
        return false;
    }

    function _min(uint128 a, uint128 b) private pure returns (uint128) {
        return a < b ? a : b;
    }

    function _max(uint128 a, uint128 b) private pure returns (uint128) {
        return a > b ? a : b;
    }
}
