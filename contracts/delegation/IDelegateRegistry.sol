// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @notice The one delegate.xyz v2 query the marketplace makes.
interface IDelegateRegistry {
    function checkDelegateForContract(
        address to,
        address from,
        address contract_,
        bytes32 rights
    ) external view returns (bool);
}
