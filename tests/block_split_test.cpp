// How the multi-block reductions cut their work (cuda/kernels/block_split.h): every sample in
// exactly one chunk, in order, and the block counts the kernels are launched with.
#include <gtest/gtest.h>

#include <vector>

#include "cuda/kernels/block_split.h"

namespace train_gpu::cuda {
namespace {

TEST(BlockSplit, ChunksCoverEverySampleOnceInOrder) {
  for (int count : {1, 2, 5, 31, 32, 64, 100, 1000, 4097}) {
    for (int plane : {1, 676, 10000}) {
      const int chunks = channel_sum_chunks(count, plane);
      ASSERT_GE(chunks, 1);
      ASSERT_LE(chunks, kMaxChannelSumChunks);
      ASSERT_LE(chunks, count);
      std::vector<int> seen(static_cast<std::size_t>(count), 0);
      int expected_first = 0;
      for (int chunk = 0; chunk < chunks; ++chunk) {
        const SampleRange range = chunk_samples(count, chunks, chunk);
        EXPECT_EQ(range.first, expected_first) << count << " " << chunk;
        EXPECT_LE(range.first, range.end);
        for (int n = range.first; n < range.end; ++n) ++seen[static_cast<std::size_t>(n)];
        expected_first = range.end;
      }
      EXPECT_EQ(expected_first, count);
      for (int n = 0; n < count; ++n) EXPECT_EQ(seen[static_cast<std::size_t>(n)], 1) << count << " " << n;
    }
  }
}

TEST(BlockSplit, TheConvolutionsBiasSumAtBatch64FillsTheGpu) {
  // 64 x 676 = 43,264 elements per channel in ~4096-element blocks: 11 chunks, 352 blocks for 32
  // channels (an H200 has 132 SMs); dense biases (plane 1) stay in one block.
  EXPECT_EQ(channel_sum_chunks(64, 676), 11);
  EXPECT_EQ(channel_sum_chunks(64, 1), 1);
  EXPECT_EQ(channel_sum_chunks(65536, 676), kMaxChannelSumChunks);
  // Planes larger than a block's share: still whole samples, so at most one chunk per sample.
  EXPECT_EQ(channel_sum_chunks(3, 10000), 3);
}

TEST(BlockSplit, SoftmaxUsesOneBlockPer256RowsWhenGivenScratch) {
  EXPECT_EQ(softmax_xent_blocks(64, 4), 1);
  EXPECT_EQ(softmax_xent_blocks(256, 4), 1);
  EXPECT_EQ(softmax_xent_blocks(257, 4), 2);
  EXPECT_EQ(softmax_xent_blocks(1024, 4), 4);
  EXPECT_EQ(softmax_xent_blocks(1025, 4), 4);  // capped by the scratch it was sized for
  EXPECT_EQ(softmax_xent_blocks(1024, 1), 1);  // classic: one block whatever the batch
}

}  // namespace
}  // namespace train_gpu::cuda
