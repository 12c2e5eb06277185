// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @notice A contract provider (like the live "subnet" ProvidersDelegate): it registers itself and
/// its owner's key signs approvals and receipts. Tests use it for the owner() signature path.
contract OwnedProviderMock {
    address public owner;

    constructor(address owner_) {
        owner = owner_;
    }

    function execute(address target, bytes calldata data) external returns (bytes memory) {
        require(msg.sender == owner, "OwnedProviderMock: not the owner");
        (bool ok, bytes memory ret) = target.call(data);
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
        return ret;
    }
}
