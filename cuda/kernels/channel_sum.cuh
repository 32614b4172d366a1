// The end of a channel sum spread over chunks of samples (bias_activation.cu's spread sum and
// the fused pooling backward of pool.cu): each block reduces its chunk, and the last block of
// the channel to finish adds the chunk partials in chunk order (block_reduce.cuh), so the total
// is bitwise reproducible. Device code and its host-side launch check: included by .cu files.
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "cuda/kernels/bias_activation.h"
#include "cuda/kernels/block_reduce.cuh"
#include "host/common/error.h"

namespace train_gpu::cuda {

// Host side, before a launch over the grid (chunks, channels): one clear line instead of CUDA's
// "invalid configuration argument" when gridDim.y would exceed its limit (block_split.h).
inline void check_spread_channels(int channels) {
  if (channels > kMaxSpreadChannels) {
    throw Error("a channel sum spread over blocks takes at most " + std::to_string(kMaxSpreadChannels) +
                " channels (one grid row each), got " + std::to_string(channels));
  }
}

// Called by every thread of block (chunk = blockIdx.x, channel) with its own partial `sum`;
// *total receives the channel's sum over all gridDim.x chunks once the last of them finishes.
template <int kThreads>
__device__ void finish_channel_sum(float sum, float* shared, const ChannelSumScratch& scratch, int channel,
                                   float* total) {
  const float block_sum = block_tree_sum<kThreads>(sum, shared);
  if (threadIdx.x != 0) return;
  float* partials = scratch.partials + static_cast<size_t>(channel) * kMaxChannelSumChunks;
  partials[blockIdx.x] = block_sum;
  if (!arrived_last(scratch.counters + channel, gridDim.x)) return;
  float channel_sum = 0.0f;
  for (unsigned int k = 0; k < gridDim.x; ++k) channel_sum += __ldcg(partials + k);
  *total = channel_sum;
}

}  // namespace train_gpu::cuda
