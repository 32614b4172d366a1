// Bias add (+ ReLU), ReLU backward and per-channel sums. Kept out of cuDNN/cuBLAS because each
// is one memory-bound pass: the forward fuses the bias with the ReLU (one read, one write), and
// a block-per-channel reduction gives deterministic bias gradients for the convolution
// (plane = 26*26) and both dense layers (plane = 1) with one kernel. The spread variant gives
// each channel several blocks (32 channels would otherwise use 32 of an H200's 132 SMs).
#include "cuda/kernels/bias_activation.h"

#include "cuda/check.h"
#include "cuda/kernels/channel_sum.cuh"
#include "cuda/kernels/launch_config.h"
#include "cuda/math/activation_math.h"

namespace train_gpu::cuda {
namespace {

constexpr int kReduceThreads = 256;

// ---------------------------------------------------------------------------------------------
// CUDA kernels

__global__ void bias_activation_kernel(float* values, const float* bias, size_t total, int channels, int plane,
                                       bool apply_relu) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int channel = static_cast<int>((i / static_cast<size_t>(plane)) % static_cast<size_t>(channels));
    const float pre_activation = values[i] + bias[channel];
    values[i] = apply_relu ? math::relu(pre_activation) : pre_activation;
  }
}

__global__ void relu_backward_kernel(const float* output, float* gradient, size_t size) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < size; i += stride) {
    gradient[i] = math::relu_backward(output[i], gradient[i]);
  }
}

// Block c sums channel c: thread t takes elements t, t + 256, ... in (n, p) order, then a fixed
// shared-memory tree combines the 256 partials.
__global__ void channel_sum_kernel(const float* values, int count, int channels, int plane, float* sums) {
  __shared__ float partials[kReduceThreads];
  const int channel = static_cast<int>(blockIdx.x);
  const int per_channel = count * plane;
  float sum = 0.0f;
  for (int j = static_cast<int>(threadIdx.x); j < per_channel; j += kReduceThreads) {
    const int n = j / plane;
    const int p = j % plane;
    sum += values[(static_cast<size_t>(n) * channels + channel) * plane + p];
  }
  partials[threadIdx.x] = sum;
  __syncthreads();
  for (int half = kReduceThreads / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half) partials[threadIdx.x] += partials[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) sums[channel] = partials[0];
}

// grid (chunks, channels): block (k, c) sums channel c over the samples of chunk k, then the
// last block of channel c adds the chunk partials in chunk order.
__global__ void channel_sum_spread_kernel(const float* values, int count, int channels, int plane, float* sums,
                                          ChannelSumScratch scratch) {
  __shared__ float shared[kReduceThreads];
  const int channel = static_cast<int>(blockIdx.y);
  const int chunks = static_cast<int>(gridDim.x);
  const SampleRange samples = chunk_samples(count, chunks, static_cast<int>(blockIdx.x));
  const int elements = (samples.end - samples.first) * plane;
  float sum = 0.0f;
  for (int j = static_cast<int>(threadIdx.x); j < elements; j += kReduceThreads) {
    const int n = samples.first + j / plane;
    const int p = j % plane;
    sum += values[(static_cast<size_t>(n) * channels + channel) * plane + p];
  }
  finish_channel_sum<kReduceThreads>(sum, shared, scratch, channel, sums + channel);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Kernel launchers

void launch_bias_activation(float* values, const float* bias, int count, int channels, int plane, bool apply_relu,
                            cudaStream_t stream) {
  const size_t total = static_cast<size_t>(count) * static_cast<size_t>(channels) * static_cast<size_t>(plane);
  if (total == 0) return;
  bias_activation_kernel<<<blocks_for(total), kThreadsPerBlock, 0, stream>>>(values, bias, total, channels, plane,
                                                                             apply_relu);
  CUDA_CHECK(cudaGetLastError());
}

void launch_relu_backward(const float* output, float* gradient, std::size_t size, cudaStream_t stream) {
  if (size == 0) return;
  relu_backward_kernel<<<blocks_for(size), kThreadsPerBlock, 0, stream>>>(output, gradient, size);
  CUDA_CHECK(cudaGetLastError());
}

void launch_channel_sum(const float* values, int count, int channels, int plane, float* sums, cudaStream_t stream) {
  if (channels <= 0) return;
  channel_sum_kernel<<<static_cast<unsigned int>(channels), kReduceThreads, 0, stream>>>(values, count, channels,
                                                                                         plane, sums);
  CUDA_CHECK(cudaGetLastError());
}

void launch_channel_sum_spread(const float* values, int count, int channels, int plane, float* sums,
                               const ChannelSumScratch& scratch, cudaStream_t stream) {
  if (channels <= 0 || count <= 0) return;
  check_spread_channels(channels);
  const int chunks = channel_sum_chunks(count, plane);
  const dim3 grid(static_cast<unsigned int>(chunks), static_cast<unsigned int>(channels));
  channel_sum_spread_kernel<<<grid, kReduceThreads, 0, stream>>>(values, count, channels, plane, sums, scratch);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace train_gpu::cuda
