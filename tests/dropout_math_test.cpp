// cuda/math/dropout_math.h's block range, which both backends' Dropout layers use to draw a
// rank's slice of a global batch: the blocks cover exactly the slice's elements, no more, and
// the slices of any split of a batch (host/distributed/batch_slice.h) together draw every
// element of one process's mask once, with the words one process would give it.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "cuda/math/dropout_math.h"
#include "host/distributed/batch_slice.h"

namespace train_gpu {
namespace {

TEST(DropoutMath, ABlockRangeCoversExactlyTheSlicesElements) {
  for (uint64_t first = 0; first < 13; ++first) {
    for (uint64_t count = 1; count < 19; ++count) {
      const math::DropoutBlockRange range = math::dropout_block_range(first, count);
      ASSERT_GE(range.blocks, 1u);
      // Covers [first, first + count) ...
      EXPECT_LE(range.first_block * 4, first) << first << "+" << count;
      EXPECT_GE((range.first_block + range.blocks) * 4, first + count) << first << "+" << count;
      // ... and no block outside it: the first holds `first`, the last holds the slice's last element.
      EXPECT_GT(range.first_block * 4 + 4, first) << first << "+" << count;
      EXPECT_LT((range.first_block + range.blocks - 1) * 4, first + count) << first << "+" << count;
    }
  }
}

// Element e's keep bit as one process draws it: word e % 4 of block e / 4.
bool kept(uint64_t seed, int64_t step, int layer, uint64_t element, float rate) {
  return math::dropout_keeps(math::dropout_bits(seed, step, layer, element / 4).word[element % 4], rate);
}

TEST(DropoutMath, RankSlicesTogetherDrawOneProcesssMask) {
  // 7 samples of 5 features (35 elements: slices start mid-block) over 1 to 4 ranks, walked the
  // way the kernels walk a slice: every block of its range, the words inside the slice.
  constexpr int kSamples = 7, kFeatures = 5;
  constexpr uint64_t kSeed = 99;
  constexpr int64_t kStep = 12;
  constexpr int kLayer = 3;
  constexpr float kRate = 0.5f;
  for (int ranks = 1; ranks <= 4; ++ranks) {
    std::vector<int> drawn(kSamples * kFeatures, 0);
    std::vector<int> mask(kSamples * kFeatures, -1);
    for (int rank = 0; rank < ranks; ++rank) {
      const distributed::BatchSlice slice = distributed::rank_slice(kSamples, rank, ranks);
      const uint64_t first = uint64_t(slice.offset) * kFeatures, count = uint64_t(slice.count) * kFeatures;
      if (count == 0) continue;
      const math::DropoutBlockRange range = math::dropout_block_range(first, count);
      for (uint64_t b = 0; b < range.blocks; ++b) {
        const uint64_t block = range.first_block + b;
        const math::DropoutBits bits = math::dropout_bits(kSeed, kStep, kLayer, block);
        for (uint64_t j = 0; j < 4; ++j) {
          const uint64_t element = block * 4 + j;
          if (element < first || element >= first + count) continue;
          drawn[element] += 1;
          mask[element] = math::dropout_keeps(bits.word[j], kRate) ? 1 : 0;
        }
      }
    }
    for (int e = 0; e < kSamples * kFeatures; ++e) {
      EXPECT_EQ(drawn[std::size_t(e)], 1) << ranks << " ranks, element " << e;
      EXPECT_EQ(mask[std::size_t(e)], kept(kSeed, kStep, kLayer, uint64_t(e), kRate) ? 1 : 0)
          << ranks << " ranks, element " << e;
    }
  }
}

}  // namespace
}  // namespace train_gpu
