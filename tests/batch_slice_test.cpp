// host/distributed/batch_slice.h: the ranks' slices of a global batch cover it exactly once, in
// rank order, balanced to one sample, for batches larger and smaller than the world.
#include <gtest/gtest.h>

#include <algorithm>

#include "host/distributed/batch_slice.h"

namespace train_gpu::distributed {
namespace {

TEST(BatchSliceTest, SlicesCoverEveryBatchOnceInRankOrderBalancedToOneSample) {
  for (int size = 1; size <= 5; ++size) {
    for (int count = 1; count <= 70; ++count) {
      int next = 0, smallest = count, largest = 0;
      for (int rank = 0; rank < size; ++rank) {
        const BatchSlice slice = rank_slice(count, rank, size);
        EXPECT_EQ(slice.offset, next) << count << " over " << size << ", rank " << rank;
        EXPECT_GE(slice.count, 0);
        next += slice.count;
        smallest = std::min(smallest, slice.count);
        largest = std::max(largest, slice.count);
      }
      EXPECT_EQ(next, count) << count << " over " << size;
      EXPECT_LE(largest - smallest, 1) << count << " over " << size;
    }
  }
}

TEST(BatchSliceTest, TheTutorialsBatchOverThreeRanksAndABatchSmallerThanTheWorld) {
  EXPECT_EQ(rank_slice(64, 0, 3).count, 21);
  EXPECT_EQ(rank_slice(64, 1, 3).offset, 21);
  EXPECT_EQ(rank_slice(64, 1, 3).count, 21);
  EXPECT_EQ(rank_slice(64, 2, 3).offset, 42);
  EXPECT_EQ(rank_slice(64, 2, 3).count, 22);
  // 2 samples over 3 ranks: one rank has none and still takes part in the step.
  EXPECT_EQ(rank_slice(2, 0, 3).count, 0);
  EXPECT_EQ(rank_slice(2, 1, 3).count, 1);
  EXPECT_EQ(rank_slice(2, 2, 3).count, 1);
}

}  // namespace
}  // namespace train_gpu::distributed
