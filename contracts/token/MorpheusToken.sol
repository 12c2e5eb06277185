// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Devnet MOR: a plain 18-decimal ERC-20 (with increaseAllowance, which the Go consumer uses).
contract MorpheusToken is ERC20 {
    constructor(uint256 initialSupply_) ERC20("Morpheus", "MOR") {
        _mint(msg.sender, initialSupply_);
    }
}
