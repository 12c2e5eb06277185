// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {SessionRouter} from "./SessionRouter.sol";

/// @notice The Morpheus marketplace at one address: the union of the live Diamond's facet
/// selectors (provider/model registries, marketplace, sessions, stats, delegation).
/// Too large for the 24 KiB limit: the devnet runs anvil with --disable-code-size-limit.
contract LumerinDiamond is SessionRouter {}
