// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @notice Running mean / squared-deviation sum (Welford), as the Morpheus stats use it.
/// @dev Signed division truncates toward zero and int64 arithmetic is checked, like the original.
library LibSD {
    struct SD {
        int64 mean;
        int64 sqSum;
    }

    function add(SD storage self, int32 x, int32 n) internal {
        int64 x_ = int64(x);
        int64 old = self.mean;
        int64 newMean = old + (x_ - old) / int64(n);
        self.mean = newMean;
        self.sqSum = self.sqSum + (x_ - newMean) * (x_ - old);
    }

    function remove(SD storage self, int32 x, int32 n) internal {
        if (n == 0) {
            self.mean = 0;
            self.sqSum = 0;
            return;
        }
        int64 x_ = int64(x);
        int64 old = self.mean;
        int64 newMean = old - (x_ - old) / int64(n);
        self.mean = newMean;
        self.sqSum = self.sqSum - (x_ - newMean) * (x_ - old);
    }
}
