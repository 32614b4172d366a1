// Bias, ReLU and bias-gradient kernels for tensors laid out (count, channels, plane): NCHW
// convolution maps have plane = H*W; dense activations (count, features) have plane = 1.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "cuda/check.h"
#include "cuda/kernels/block_split.h"
#include "cuda/memory.h"

namespace train_gpu::cuda {

// values[n][c][p] = relu(values[n][c][p] + bias[c]) when apply_relu, else values + bias[c].
// In place.
void launch_bias_activation(float* values, const float* bias, int count, int channels, int plane, bool apply_relu,
                            cudaStream_t stream);

// gradient[i] = math::relu_backward(output[i], gradient[i]): from the gradient w.r.t. a ReLU's
// output to the gradient w.r.t. its input, using the saved output. In place.
void launch_relu_backward(const float* output, float* gradient, std::size_t size, cudaStream_t stream);

// sums[c] = sum over n and p of values[n][c][p]: the bias gradient of a layer whose output
// gradient is `values`. Overwrites sums. One block per channel with a fixed reduction order,
// so it is bitwise deterministic (no atomics).
void launch_channel_sum(const float* values, int count, int channels, int plane, float* sums, cudaStream_t stream);

// Device scratch for channel sums spread over several blocks per channel (block_split.h): one
// partial per (channel, chunk) and an arrival counter per channel, zeroed once before first use
// and re-armed by the kernels (cuda/kernels/block_reduce.cuh).
struct ChannelSumScratch {
  float* partials = nullptr;         // channels * kMaxChannelSumChunks
  unsigned int* counters = nullptr;  // channels
};

// The device memory behind a ChannelSumScratch for `channels`, its counters zeroed on `stream`
// (the stream every sum using it runs on, so the zeroing comes before the first of them).
class ChannelSumBuffers {
 public:
  ChannelSumBuffers() = default;
  ChannelSumBuffers(int channels, cudaStream_t stream)
      : partials_(std::size_t(channels) * kMaxChannelSumChunks, "channel-sum partials"),
        counters_(std::size_t(channels), "channel-sum counters") {
    CUDA_CHECK(cudaMemsetAsync(counters_.data(), 0, counters_.bytes(), stream));
  }
  ChannelSumScratch scratch() { return ChannelSumScratch{partials_.data(), counters_.data()}; }

 private:
  DeviceBuffer<float> partials_;
  DeviceBuffer<unsigned int> counters_;
};

// The same sums as launch_channel_sum, spread over channel_sum_chunks(count, plane) blocks per
// channel whose partials the last block of each channel adds in chunk order: deterministic too,
// but a different summation order, so not bitwise equal to launch_channel_sum.
void launch_channel_sum_spread(const float* values, int count, int channels, int plane, float* sums,
                               const ChannelSumScratch& scratch, cudaStream_t stream);

}  // namespace train_gpu::cuda
