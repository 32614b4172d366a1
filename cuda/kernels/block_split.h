// How the multi-block reductions split their work over blocks (softmax_xent.cu, the channel
// sums of bias_activation.cu and pool.cu). Plain C++ so the arithmetic is tested on the CPU;
// chunk_samples is __host__ __device__ because the kernels call it too.
#pragma once

#include "cuda/math/host_device.h"

namespace train_gpu::cuda {

// Softmax-CE: one row per thread, 256 threads per block.
constexpr int kSoftmaxRowsPerBlock = 256;

// Blocks for `count` rows: one per 256 rows, at most max_blocks (the scratch it was sized for);
// 1 when max_blocks <= 1 (the classic single-block launch).
inline int softmax_xent_blocks(int count, int max_blocks) {
  if (max_blocks <= 1 || count <= kSoftmaxRowsPerBlock) return 1;
  const int blocks = (count + kSoftmaxRowsPerBlock - 1) / kSoftmaxRowsPerBlock;
  return blocks < max_blocks ? blocks : max_blocks;
}

// Channel sums over (count, channels, plane): at most this many blocks per channel.
constexpr int kMaxChannelSumChunks = 64;

// The spread channel sums launch a grid (chunks, channels): one grid row per channel, and CUDA
// caps gridDim.y at 65535, so a layer with more channels cannot take them (fusion_plan.h keeps
// such a layer on the one-block-per-channel sum, whose channels are grid columns).
constexpr int kMaxSpreadChannels = 65535;

// Blocks per channel: one per ~4096 elements, at most one per sample (a chunk is whole samples)
// and at most kMaxChannelSumChunks. So the convolution's 32 channels at batch 64 make 11 chunks
// each, 352 blocks (one block per channel would leave 100 of an H200's 132 SMs idle); at batch
// 1,000 the cap binds: 64 chunks of 16 samples (10,816 elements per block, the last chunk empty).
inline int channel_sum_chunks(int count, int plane) {
  constexpr long long kElementsPerBlock = 4096;
  const long long elements = static_cast<long long>(count) * plane;
  long long chunks = (elements + kElementsPerBlock - 1) / kElementsPerBlock;
  if (chunks > count) chunks = count;
  if (chunks > kMaxChannelSumChunks) chunks = kMaxChannelSumChunks;
  return chunks < 1 ? 1 : static_cast<int>(chunks);
}

// Samples [first, end) of chunk `chunk` of `chunks` over `count` samples: equal whole-sample
// slices in order, the last ones possibly shorter or empty.
struct SampleRange {
  int first;
  int end;
};
TG_HOST_DEVICE SampleRange chunk_samples(int count, int chunks, int chunk) {
  const int per_chunk = (count + chunks - 1) / chunks;
  const int first = chunk * per_chunk < count ? chunk * per_chunk : count;
  const int end = first + per_chunk < count ? first + per_chunk : count;
  return SampleRange{first, end};
}

}  // namespace train_gpu::cuda
