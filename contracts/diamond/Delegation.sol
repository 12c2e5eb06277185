// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {DiamondOwnable} from "./DiamondOwnable.sol";
import {IDelegateRegistry} from "../delegation/IDelegateRegistry.sol";

/// @notice Delegation facet: "principal or delegate" access via a delegate.xyz v2 registry.
abstract contract Delegation is DiamondOwnable {
    error InsufficientRightsForOperation(address delegator, address delegatee);

    event DelegationRegistryUpdated(address registry);

    bytes32 public constant DELEGATION_RULES_PROVIDER = keccak256("delegation.rules.provider");
    bytes32 public constant DELEGATION_RULES_MODEL = keccak256("delegation.rules.model");
    bytes32 public constant DELEGATION_RULES_MARKETPLACE = keccak256("delegation.rules.marketplace");
    bytes32 public constant DELEGATION_RULES_SESSION = keccak256("delegation.rules.session");

    address internal _delegationRegistry;

    function __Delegation_init(
        address registry_
    ) external onlyOwner onlyInitializing(keccak256("diamond.standard.delegation.storage")) {
        _delegationRegistry = registry_;
    }

    function setRegistry(address registry_) external onlyOwner {
        _delegationRegistry = registry_;
        emit DelegationRegistryUpdated(registry_);
    }

    function getRegistry() external view returns (address) {
        return _delegationRegistry;
    }

    /// @dev With no registry configured nobody holds delegated rights (devnets, fresh deploys).
    function isRightsDelegated(address delegatee, address delegator, bytes32 rights) public view returns (bool) {
        if (_delegationRegistry == address(0)) {
            return false;
        }
        return
            IDelegateRegistry(_delegationRegistry).checkDelegateForContract(
                delegatee,
                delegator,
                address(this),
                rights
            );
    }

    function _onlyAccount(address principal, bytes32 rights) internal view {
        if (msg.sender != principal && !isRightsDelegated(msg.sender, principal, rights)) {
            revert InsufficientRightsForOperation(principal, msg.sender);
        }
    }
}
