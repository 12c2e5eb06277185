// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @notice Reward emitted by a pool whose per-interval reward falls linearly (spec §3.3).
/// @dev Written from the specification's description of the algorithm.
library LinearDistributionIntervalDecrease {
    function getPeriodReward(
        uint256 initialAmount,
        uint256 decreaseAmount,
        uint128 payoutStart,
        uint128 interval,
        uint128 startTime,
        uint128 endTime
    ) internal pure returns (uint256) {
        if (interval == 0) {
            return 0;
        }
        uint256 p = payoutStart;
        uint256 i = interval;
        uint256 s = startTime < payoutStart ? p : uint256(startTime);
        uint256 e = endTime;

        uint256 maxEnd = type(uint128).max;
        if (decreaseAmount > 0) {
            maxEnd = p + _ceilDiv(initialAmount, decreaseAmount) * i;
        }
        if (e > maxEnd) {
            e = maxEnd;
        }
        if (s >= e) {
            return 0;
        }

        uint256 firstInterval = (s - p) / i;
        if (firstInterval == (e - p) / i) {
            return ((initialAmount - firstInterval * decreaseAmount) * (e - s)) / i;
        }

        return
            _firstPart(initialAmount, decreaseAmount, p, i, s) +
            _fullIntervals(initialAmount, decreaseAmount, p, i, s, e) +
            _lastPart(initialAmount, decreaseAmount, p, i, e);
    }

    function _firstPart(uint256 init, uint256 dec, uint256 p, uint256 i, uint256 s) private pure returns (uint256) {
        uint256 k = (s - p) / i;
        if (k * dec >= init) {
            return 0;
        }
        uint256 part = i * (k + 1) + p - s;
        if (part == i) {
            return 0;
        }
        return ((init - k * dec) * part) / i;
    }

    function _fullIntervals(
        uint256 init,
        uint256 dec,
        uint256 p,
        uint256 i,
        uint256 s,
        uint256 e
    ) private pure returns (uint256) {
        uint256 j = _ceilDiv(s - p, i);
        if (j * dec >= init) {
            return 0;
        }
        uint256 r0 = init - j * dec;
        uint256 m = (e - p - j * i) / i;
        if (m == 0) {
            return 0;
        }
        return r0 * m - (dec * (m * (m - 1))) / 2;
    }

    function _lastPart(uint256 init, uint256 dec, uint256 p, uint256 i, uint256 e) private pure returns (uint256) {
        uint256 k = (e - p) / i;
        if (k * dec >= init) {
            return 0;
        }
        uint256 part = e - i * k - p;
        if (part == i) {
            return 0;
        }
        return ((init - k * dec) * part) / i;
    }

    function _ceilDiv(uint256 a, uint256 b) private pure returns (uint256) {
        return a == 0 ? 0 : (a - 1) / b + 1;
    }
}
