#include "host/data/permutation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "host/data/sha256.h"

namespace train_gpu {
namespace {

TEST(EpochPermutation, IsAPermutation) {
  std::vector<int32_t> order = epoch_permutation(42, 0, 60000);
  ASSERT_EQ(order.size(), 60000u);
  std::sort(order.begin(), order.end());
  EXPECT_EQ(order, identity_order(60000));
}

TEST(EpochPermutation, DependsOnlyOnSeedAndEpoch) {
  EXPECT_EQ(epoch_permutation(42, 3, 1000), epoch_permutation(42, 3, 1000));
  EXPECT_NE(epoch_permutation(42, 3, 1000), epoch_permutation(42, 4, 1000));
  EXPECT_NE(epoch_permutation(42, 3, 1000), epoch_permutation(43, 3, 1000));
}

// Pinned values: resuming a run and "the same batches as an uninterrupted run" rest on this order
// never changing across versions, compilers and platforms. The values come from the algorithm as
// written in random.h and permutation.cpp (SplitMix64-seeded xoshiro256**, rejection-sampled
// bounds, Fisher-Yates from the last position down) and were cross-checked against an independent
// Python transcription of it. A change of generator, of the stream mixing, of the bound's rejection
// or of the shuffle's direction changes every one of them.
TEST(EpochPermutation, IsFixedAcrossPlatforms) {
  struct Pinned {
    uint64_t seed;
    int64_t epoch;
    std::vector<int32_t> order;
  };
  const std::vector<Pinned> pinned = {
      {42, 0, {1, 6, 0, 3, 7, 4, 2, 5, 8, 9}},
      {42, 1, {0, 7, 6, 2, 3, 1, 5, 9, 4, 8}},
      {43, 0, {2, 9, 4, 5, 8, 6, 1, 0, 7, 3}},
      {7, 3, {3, 2, 0, 1, 4}},
      {0, 0, {0}},
      {UINT64_MAX, 1000, {2, 12, 11, 10, 1, 7, 6, 13, 16, 4, 3, 5, 15, 0, 8, 14, 9}},
  };
  for (const Pinned& p : pinned) {
    EXPECT_EQ(epoch_permutation(p.seed, p.epoch, static_cast<int32_t>(p.order.size())), p.order)
        << "seed " << p.seed << ", epoch " << p.epoch << ", count " << p.order.size();
  }
}

// SHA-256 of the order as little-endian int32 bytes (written out byte by byte, so the digest does
// not depend on this machine's endianness).
std::string order_digest(const std::vector<int32_t>& order) {
  std::string bytes;
  for (const int32_t index : order) {
    for (int shift = 0; shift < 32; shift += 8) bytes.push_back(static_cast<char>(static_cast<uint32_t>(index) >> shift));
  }
  return sha256_hex(bytes);
}

// The full MNIST training set (and the size of its test set), pinned by digest with the first
// indices alongside so a failure shows where the orders part.
TEST(EpochPermutation, MnistSizedOrdersAreFixedAcrossPlatforms) {
  struct Pinned {
    uint64_t seed;
    int64_t epoch;
    int32_t count;
    std::vector<int32_t> first;
    const char* sha256;
  };
  const std::vector<Pinned> pinned = {
      {42, 0, 60000, {59933, 30026, 41515, 39265, 29028, 15199, 42070, 12099},
       "3a43f6d8316949947b482acbd3a8622a6e74fafb8b3b5adc5db2d8f88dddff93"},
      {42, 1, 60000, {8598, 29354, 36086, 40353, 33853, 1829, 29406, 41348},
       "a2bea5344d88e390ae141cc99810668e4d40204b058b940f9b77b72e5c24a93f"},
      {3, 49, 60000, {6095, 40737, 24936, 49963, 42118, 55881, 17099, 15998},
       "7ba8f22793e591a0b1a56dd5662ceb53b407f7b894adb0645b8bab48939a3cd5"},
      {42, 0, 10000, {62, 9768, 3456, 4807, 441, 1459, 2973, 2598},
       "8104cef36fa50ca3c9faf092945342b24835f8fc59e017351a9156467b7814f1"},
  };
  for (const Pinned& p : pinned) {
    SCOPED_TRACE("seed " + std::to_string(p.seed) + ", epoch " + std::to_string(p.epoch) + ", count " +
                 std::to_string(p.count));
    const std::vector<int32_t> order = epoch_permutation(p.seed, p.epoch, p.count);
    ASSERT_EQ(order.size(), static_cast<size_t>(p.count));
    EXPECT_EQ(std::vector<int32_t>(order.begin(), order.begin() + 8), p.first);
    EXPECT_EQ(order_digest(order), p.sha256);
  }
}

TEST(EpochPermutation, EveryPositionIsReachedUniformly) {
  // Where element 0 lands over 20,000 epochs: each of 10 slots expects 2,000; a binomial
  // standard deviation is sqrt(20000 * 0.1 * 0.9) = 42, so +-250 (6 sigma) only fails on a bias.
  std::vector<int> landed(10, 0);
  for (int epoch = 0; epoch < 20000; ++epoch) {
    const std::vector<int32_t> order = epoch_permutation(7, epoch, 10);
    landed[static_cast<size_t>(std::find(order.begin(), order.end(), 0) - order.begin())]++;
  }
  for (int count : landed) EXPECT_NEAR(count, 2000, 250);
}

}  // namespace
}  // namespace train_gpu
