// The end of a channel sum spread over chunks of samples (bias_activation.cu's spread sum and
// the fused pooling backward of pool.cu): each block reduces its chunk, and the last block of
// the channel to finish adds the chunk partials in chunk order (block_reduce.cuh), so the total
// is bitwise reproducible. Device code only: included by .cu files.
#pragma once

#include <cuda_runtime.h>

#include "cuda/kernels/bias_activation.h"
#include "cuda/kernels/block_reduce.cuh"

namespace train_gpu::cuda {

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
