// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {IDelegateRegistry} from "./IDelegateRegistry.sol";

/// @notice A minimal delegate.xyz-v2-compatible registry for the devnet: "all" and per-contract
/// delegations with optional rights, enough for the marketplace's principal-or-delegate checks.
contract DelegateRegistry is IDelegateRegistry {
    event DelegateAll(address indexed from, address indexed to, bytes32 rights, bool enable);
    event DelegateContract(
        address indexed from,
        address indexed to,
        address indexed contract_,
        bytes32 rights,
        bool enable
    );

    // keccak(from, to, contract, rights) => enabled; contract 0 means "all".
    mapping(bytes32 => bool) private _delegations;

    function delegateAll(address to, bytes32 rights, bool enable) external payable returns (bytes32 hash) {
        hash = _key(msg.sender, to, address(0), rights);
        _delegations[hash] = enable;
        emit DelegateAll(msg.sender, to, rights, enable);
    }

    function delegateContract(
        address to,
        address contract_,
        bytes32 rights,
        bool enable
    ) external payable returns (bytes32 hash) {
        hash = _key(msg.sender, to, contract_, rights);
        _delegations[hash] = enable;
        emit DelegateContract(msg.sender, to, contract_, rights, enable);
    }

    function checkDelegateForAll(address to, address from, bytes32 rights) public view returns (bool) {
        return
            _delegations[_key(from, to, address(0), bytes32(0))] ||
            (rights != bytes32(0) && _delegations[_key(from, to, address(0), rights)]);
    }

    function checkDelegateForContract(
        address to,
        address from,
        address contract_,
        bytes32 rights
    ) external view override returns (bool) {
        if (checkDelegateForAll(to, from, rights)) {
            return true;
        }
        return
            _delegations[_key(from, to, contract_, bytes32(0))] ||
            (rights != bytes32(0) && _delegations[_key(from, to, contract_, rights)]);
    }

    function _key(address from, address to, address contract_, bytes32 rights) private pure returns (bytes32) {
        return keccak256(abi.encode(from, to, contract_, rights));
    }
}
