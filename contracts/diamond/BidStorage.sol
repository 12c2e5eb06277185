// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {Delegation} from "./Delegation.sol";
import {Paginator} from "../libs/Paginator.sol";

/// @notice Bid storage getters (IBidStorage); the registries need it to refuse deregistration
/// while bids are active, so it sits below them in the inheritance chain.
abstract contract BidStorage is Delegation {
    using EnumerableSet for EnumerableSet.Bytes32Set;
    using Paginator for EnumerableSet.Bytes32Set;

    struct Bid {
        address provider;
        bytes32 modelId;
        uint256 pricePerSecond;
        uint256 nonce;
        uint128 createdAt;
        uint128 deletedAt;
    }

    IERC20 internal _token;
    mapping(bytes32 => Bid) internal _bids;
    mapping(bytes32 => uint256) internal _providerModelNonce;
    mapping(address => EnumerableSet.Bytes32Set) internal _providerBids;
    mapping(address => EnumerableSet.Bytes32Set) internal _providerActiveBids;
    mapping(bytes32 => EnumerableSet.Bytes32Set) internal _modelBids;
    mapping(bytes32 => EnumerableSet.Bytes32Set) internal _modelActiveBids;

    function getBid(bytes32 bidId) external view returns (Bid memory) {
        return _bids[bidId];
    }

    function getProviderActiveBids(
        address provider,
        uint256 offset,
        uint256 limit
    ) external view returns (bytes32[] memory, uint256) {
        return _providerActiveBids[provider].part(offset, limit);
    }

    function getModelActiveBids(
        bytes32 modelId,
        uint256 offset,
        uint256 limit
    ) external view returns (bytes32[] memory, uint256) {
        return _modelActiveBids[modelId].part(offset, limit);
    }

    function getProviderBids(
        address provider,
        uint256 offset,
        uint256 limit
    ) external view returns (bytes32[] memory, uint256) {
        return _providerBids[provider].part(offset, limit);
    }

    function getModelBids(
        bytes32 modelId,
        uint256 offset,
        uint256 limit
    ) external view returns (bytes32[] memory, uint256) {
        return _modelBids[modelId].part(offset, limit);
    }

    function getToken() external view returns (address) {
        return address(_token);
    }

    function isBidActive(bytes32 bidId) public view returns (bool) {
        Bid storage bid = _bids[bidId];
        return bid.createdAt != 0 && bid.deletedAt == 0;
    }
}
