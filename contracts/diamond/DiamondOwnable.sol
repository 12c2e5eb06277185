// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @notice Ownership and one-time facet initialisation, with the Diamond's error shapes.
abstract contract DiamondOwnable {
    error OwnableUnauthorizedAccount(address account);

    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event Initialized(bytes32 storageSlot);

    address private _owner;
    mapping(bytes32 => bool) private _initialized;

    constructor() {
        _transferOwnership(msg.sender);
    }

    modifier onlyOwner() {
        if (msg.sender != _owner) {
            revert OwnableUnauthorizedAccount(msg.sender);
        }
        _;
    }

    /// @dev Each facet's init runs once, keyed by its storage slot name, like Solarity's initializer.
    modifier onlyInitializing(bytes32 storageSlot) {
        require(!_initialized[storageSlot], "Initializable: contract is already initialized");
        _initialized[storageSlot] = true;
        _;
        emit Initialized(storageSlot);
    }

    function owner() public view returns (address) {
        return _owner;
    }

    function transferOwnership(address newOwner) external onlyOwner {
        require(newOwner != address(0), "DiamondOwnable: zero address owner");
        _transferOwnership(newOwner);
    }

    function renounceOwnership() external onlyOwner {
        _transferOwnership(address(0));
    }

    function _transferOwnership(address newOwner) private {
        address previous = _owner;
        _owner = newOwner;
        emit OwnershipTransferred(previous, newOwner);
    }
}
