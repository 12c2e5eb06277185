// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {ModelRegistry} from "./ModelRegistry.sol";

/// @notice Marketplace facet (spec §2.5): one active bid per (provider, model), a fee per post.
abstract contract Marketplace is ModelRegistry {
    using EnumerableSet for EnumerableSet.Bytes32Set;

    error MarketplaceProviderNotFound();
    error MarketplaceModelNotFound();
    error MarketplaceActiveBidNotFound();
    error MarketplaceBidMinPricePerSecondIsZero();
    error MarketplaceBidMinPricePerSecondIsInvalid();
    error MarketplaceBidPricePerSecondInvalid();
    error MarketplaceFeeAmountIsZero();

    event MaretplaceFeeUpdated(uint256 bidFee);
    event MarketplaceBidPosted(address indexed provider, bytes32 indexed modelId, uint256 nonce);
    event MarketplaceBidDeleted(address indexed provider, bytes32 indexed modelId, uint256 nonce);
    event MarketplaceBidMinMaxPriceUpdated(uint256 bidMinPricePerSecond, uint256 bidMaxPricePerSecond);

    uint256 internal _feeBalance;
    uint256 internal _bidFee;
    uint256 internal _bidMinPricePerSecond;
    uint256 internal _bidMaxPricePerSecond;

    function __Marketplace_init(
        address token_,
        uint256 bidMinPricePerSecond_,
        uint256 bidMaxPricePerSecond_
    ) external onlyOwner onlyInitializing(keccak256("diamond.standard.market.storage")) {
        _token = IERC20(token_);
        _setMinMaxBidPricePerSecond(bidMinPricePerSecond_, bidMaxPricePerSecond_);
    }

    function setMarketplaceBidFee(uint256 bidFee_) external onlyOwner {
        _bidFee = bidFee_;
        emit MaretplaceFeeUpdated(bidFee_);
    }

    function setMinMaxBidPricePerSecond(uint256 min_, uint256 max_) external onlyOwner {
        _setMinMaxBidPricePerSecond(min_, max_);
    }

    function postModelBid(address provider_, bytes32 modelId_, uint256 pricePerSecond_) external returns (bytes32) {
        _onlyAccount(provider_, DELEGATION_RULES_MARKETPLACE);
        if (!getIsProviderActive(provider_)) {
            revert MarketplaceProviderNotFound();
        }
        if (!getIsModelActive(modelId_)) {
            revert MarketplaceModelNotFound();
        }
        if (pricePerSecond_ < _bidMinPricePerSecond || pricePerSecond_ > _bidMaxPricePerSecond) {
            revert MarketplaceBidPricePerSecondInvalid();
        }

        SafeERC20.safeTransferFrom(_token, provider_, address(this), _bidFee);
        _feeBalance += _bidFee;

        bytes32 providerModelId = getProviderModelId(provider_, modelId_);
        uint256 nonce = _providerModelNonce[providerModelId]++;
        bytes32 bidId = getBidId(provider_, modelId_, nonce);

        if (nonce > 0) {
            bytes32 previousBidId = getBidId(provider_, modelId_, nonce - 1);
            if (isBidActive(previousBidId)) {
                _deleteBid(previousBidId);
            }
        }

        Bid storage bid = _bids[bidId];
        bid.provider = provider_;
        bid.modelId = modelId_;
        bid.pricePerSecond = pricePerSecond_;
        bid.nonce = nonce;
        bid.createdAt = uint128(block.timestamp);

        _providerBids[provider_].add(bidId);
        _providerActiveBids[provider_].add(bidId);
        _modelBids[modelId_].add(bidId);
        _modelActiveBids[modelId_].add(bidId);

        emit MarketplaceBidPosted(provider_, modelId_, nonce);
        return bidId;
    }

    function deleteModelBid(bytes32 bidId_) external {
        _onlyAccount(_bids[bidId_].provider, DELEGATION_RULES_MARKETPLACE);
        if (!isBidActive(bidId_)) {
            revert MarketplaceActiveBidNotFound();
        }
        _deleteBid(bidId_);
    }

    function withdrawFee(address recipient_, uint256 amount_) external onlyOwner {
        uint256 amount = amount_ > _feeBalance ? _feeBalance : amount_;
        if (amount == 0) {
            revert MarketplaceFeeAmountIsZero();
        }
        _feeBalance -= amount;
        SafeERC20.safeTransfer(_token, recipient_, amount);
    }

    function getBidFee() external view returns (uint256) {
        return _bidFee;
    }

    function getFeeBalance() external view returns (uint256) {
        return _feeBalance;
    }

    function getMinMaxBidPricePerSecond() external view returns (uint256, uint256) {
        return (_bidMinPricePerSecond, _bidMaxPricePerSecond);
    }

    function getBidId(address provider_, bytes32 modelId_, uint256 nonce_) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(provider_, modelId_, nonce_));
    }

    function getProviderModelId(address provider_, bytes32 modelId_) public pure returns (bytes32) {
        return keccak256(abi.encodePacked(provider_, modelId_));
    }

    function _deleteBid(bytes32 bidId_) private {
        Bid storage bid = _bids[bidId_];
        bid.deletedAt = uint128(block.timestamp);
        _providerActiveBids[bid.provider].remove(bidId_);
        _modelActiveBids[bid.modelId].remove(bidId_);
        emit MarketplaceBidDeleted(bid.provider, bid.modelId, bid.nonce);
    }

    function _setMinMaxBidPricePerSecond(uint256 min_, uint256 max_) private {
        if (min_ == 0) {
            revert MarketplaceBidMinPricePerSecondIsZero();
        }
        if (min_ > max_) {
            revert MarketplaceBidMinPricePerSecondIsInvalid();
        }
        _bidMinPricePerSecond = min_;
        _bidMaxPricePerSecond = max_;
        emit MarketplaceBidMinMaxPriceUpdated(min_, max_);
    }
}
