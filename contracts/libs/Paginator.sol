// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";

/// @notice `(items[offset, offset+limit), total)` pages over enumerable sets, as every getter returns.
library Paginator {
    using EnumerableSet for EnumerableSet.AddressSet;
    using EnumerableSet for EnumerableSet.Bytes32Set;

    function _bounds(uint256 total, uint256 offset, uint256 limit) private pure returns (uint256, uint256) {
        if (offset >= total) {
            return (0, 0);
        }
        uint256 end = limit > total - offset ? total : offset + limit;
        return (offset, end);
    }

    function part(
        EnumerableSet.AddressSet storage set,
        uint256 offset,
        uint256 limit
    ) internal view returns (address[] memory items, uint256 total) {
        total = set.length();
        (uint256 from, uint256 to) = _bounds(total, offset, limit);
        items = new address[](to - from);
        for (uint256 k = from; k < to; ++k) {
            items[k - from] = set.at(k);
        }
    }

    function part(
        EnumerableSet.Bytes32Set storage set,
        uint256 offset,
        uint256 limit
    ) internal view returns (bytes32[] memory items, uint256 total) {
        total = set.length();
        (uint256 from, uint256 to) = _bounds(total, offset, limit);
        items = new bytes32[](to - from);
        for (uint256 k = from; k < to; ++k) {
            items[k - from] = set.at(k);
        }
    }

    function part(
        bytes32[] storage list,
        uint256 offset,
        uint256 limit
    ) internal view returns (bytes32[] memory items, uint256 total) {
        total = list.length;
        (uint256 from, uint256 to) = _bounds(total, offset, limit);
        items = new bytes32[](to - from);
        for (uint256 k = from; k < to; ++k) {
            items[k - from] = list[k];
        }
    }
}
