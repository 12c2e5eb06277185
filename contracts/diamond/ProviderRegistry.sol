// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {BidStorage} from "./BidStorage.sol";
import {Paginator} from "../libs/Paginator.sol";

/// @notice Provider registry facet (spec §2.3) with the 365-day earnings limiter's bookkeeping.
abstract contract ProviderRegistry is BidStorage {
    using EnumerableSet for EnumerableSet.AddressSet;
    using EnumerableSet for EnumerableSet.Bytes32Set;
    using Paginator for EnumerableSet.AddressSet;

    error ProviderStakeTooLow(uint256 amount, uint256 minAmount);
    error ProviderHasActiveBids();
    error ProviderNotFound();
    error ProviderHasAlreadyDeregistered();
    error ProviderNotDeregistered();
    error ProviderNoStake();
    error ProviderNothingToWithdraw();

    event ProviderRegistered(address indexed provider);
    event ProviderDeregistered(address indexed provider);
    event ProviderMinimumStakeUpdated(uint256 providerMinimumStake);
    event ProviderWithdrawn(address indexed provider, uint256 amount);

    struct Provider {
        string endpoint;
        uint256 stake;
        uint128 createdAt;
        uint128 limitPeriodEnd;
        uint256 limitPeriodEarned;
        bool isDeleted;
    }

    uint128 public constant PROVIDER_REWARD_LIMITER_PERIOD = 365 days;

    uint256 internal _providerMinimumStake;
    mapping(address => Provider) internal _providers;
    EnumerableSet.AddressSet internal _activeProviders;

    function __ProviderRegistry_init()
        external
        onlyOwner
        onlyInitializing(keccak256("diamond.standard.providers.storage"))
    {}

    function providerSetMinStake(uint256 providerMinimumStake_) external onlyOwner {
        _providerMinimumStake = providerMinimumStake_;
        emit ProviderMinimumStakeUpdated(providerMinimumStake_);
    }

    function providerRegister(address provider_, uint256 amount_, string calldata endpoint_) external {
        _onlyAccount(provider_, DELEGATION_RULES_PROVIDER);
        if (amount_ > 0) {
            SafeERC20.safeTransferFrom(_token, provider_, address(this), amount_);
        }
        Provider storage provider = _providers[provider_];
        uint256 newStake = provider.stake + amount_;
        if (newStake < _providerMinimumStake) {
            revert ProviderStakeTooLow(newStake, _providerMinimumStake);
        }
        if (provider.createdAt == 0) {
            provider.createdAt = uint128(block.timestamp);
            provider.limitPeriodEnd = uint128(block.timestamp) + PROVIDER_REWARD_LIMITER_PERIOD;
        } else if (provider.isDeleted) {
            provider.isDeleted = false;
        }
        provider.endpoint = endpoint_;
        provider.stake = newStake;
        _activeProviders.add(provider_);
        emit ProviderRegistered(provider_);
    }

    function providerDeregister(address provider_) external {
        _onlyAccount(provider_, DELEGATION_RULES_PROVIDER);
        Provider storage provider = _providers[provider_];
        if (provider.createdAt == 0) {
            revert ProviderNotFound();
        }
        if (_providerActiveBids[provider_].length() != 0) {
            revert ProviderHasActiveBids();
        }
        if (provider.isDeleted) {
            revert ProviderHasAlreadyDeregistered();
        }
        uint256 withdrawAmount = block.timestamp > provider.limitPeriodEnd
            ? provider.stake
            : provider.stake - provider.limitPeriodEarned;
        provider.stake -= withdrawAmount;
        provider.isDeleted = true;
        _activeProviders.remove(provider_);
        if (withdrawAmount > 0) {
            SafeERC20.safeTransfer(_token, provider_, withdrawAmount);
        }
        emit ProviderDeregistered(provider_);
    }

    function getProvider(address provider_) external view returns (Provider memory) {
        return _providers[provider_];
    }

    function getProviderMinimumStake() external view returns (uint256) {
        return _providerMinimumStake;
    }

    function getActiveProviders(uint256 offset_, uint256 limit_) external view returns (address[] memory, uint256) {
        return _activeProviders.part(offset_, limit_);
    }

    function getIsProviderActive(address provider_) public view returns (bool) {
        Provider storage provider = _providers[provider_];
        return provider.createdAt != 0 && !provider.isDeleted;
    }
}
