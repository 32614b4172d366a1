// Max pooling as two small custom kernels rather than cuDNN's pooling API:
// - 2x2/stride 2 over 26x26 maps is one memory-bound pass; a kernel that also records the
//   argmax (1 byte per output) makes the backward pass a pure scatter with no re-comparison;
// - the backward pass fuses the ReLU mask of the convolution output, saving a full pass over
//   the (N, 32, 26, 26) gradient;
// - the tie rule (first maximum in row-major window order) is ours and matches the CPU
//   backend exactly, where cuDNN's is unspecified;
// - the per-window math is math::maxpool2x2_window / maxpool2x2_relu_backward, testable on the CPU.
// The fused pair (--kernels fused) goes further: the forward applies the convolution's bias and
// ReLU while reading the raw convolution output (no separate bias pass, and the post-ReLU map is
// never written), and the backward takes the ReLU mask from the pooled output and sums the
// convolution's bias gradient in the same pass (no separate channel-sum pass over the 26x26 maps).
// cuDNN pooling is offered too (cudnn_pool.cu, --pooling cudnn) for comparison.
#include "cuda/layers/pool.h"

#include <string>

#include "cuda/check.h"
#include "cuda/kernels/channel_sum.cuh"
#include "cuda/kernels/launch_config.h"
#include "cuda/math/pool_math.h"

namespace train_gpu::cuda {
namespace {

// ---------------------------------------------------------------------------------------------
// CUDA kernels

// One thread per output element (n, c, y, x).
__global__ void maxpool2x2_forward_kernel(const float* input, size_t outputs, int side, float* output,
                                          uint8_t* argmax) {
  const int out_side = side / 2;
  const size_t out_plane = static_cast<size_t>(out_side) * out_side;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < outputs; i += stride) {
    const size_t plane_index = i / out_plane;  // n * channels + c
    const int within = static_cast<int>(i % out_plane);
    const float* plane = input + plane_index * static_cast<size_t>(side) * side;
    const math::PoolWinner winner = math::maxpool2x2_window(plane, side, within / out_side, within % out_side);
    output[i] = winner.value;
    argmax[i] = winner.position;
  }
}

// One thread per INPUT element, so every element of dinput is written exactly once (zeros
// included) and no memset is needed.
__global__ void maxpool2x2_relu_backward_kernel(const float* doutput, const uint8_t* argmax, const float* input,
                                                size_t inputs, int side, float* dinput) {
  const int out_side = side / 2;
  const size_t plane_size = static_cast<size_t>(side) * side;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < inputs; i += stride) {
    const size_t plane_index = i / plane_size;
    const int within = static_cast<int>(i % plane_size);
    const int y = within / side;
    const int x = within % side;
    const size_t out = plane_index * static_cast<size_t>(out_side) * out_side +
                       static_cast<size_t>(y / 2) * out_side + static_cast<size_t>(x / 2);
    const int position = (y % 2) * 2 + (x % 2);
    dinput[i] = math::maxpool2x2_relu_backward(input[i], doutput[out], argmax[out], position);
  }
}

// One thread per output element, reading relu(input + bias) on the fly.
__global__ void bias_relu_maxpool2x2_forward_kernel(const float* input, const float* bias, size_t outputs, int channels,
                                                    int side, float* output, uint8_t* argmax, float* activated) {
  const int out_side = side / 2;
  const size_t out_plane = static_cast<size_t>(out_side) * out_side;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < outputs; i += stride) {
    const size_t plane_index = i / out_plane;  // n * channels + c
    const int channel = static_cast<int>(plane_index % static_cast<size_t>(channels));
    const int within = static_cast<int>(i % out_plane);
    const int out_y = within / out_side;
    const int out_x = within % out_side;
    const size_t plane_offset = plane_index * static_cast<size_t>(side) * side;
    float window[4];
    const math::PoolWinner winner = math::bias_relu_maxpool2x2_window(
        input + plane_offset, side, out_y, out_x, bias[channel], activated != nullptr ? window : nullptr);
    output[i] = winner.value;
    argmax[i] = winner.position;
    if (activated != nullptr) {
      float* top = activated + plane_offset + static_cast<size_t>(2 * out_y) * side + 2 * out_x;
      top[0] = window[0];
      top[1] = window[1];
      top[side] = window[2];
      top[side + 1] = window[3];
    }
  }
}

// grid (chunks, channels): block (k, c) writes dinput for channel c over the samples of chunk k
// and sums them; the last block of channel c adds the chunk partials in chunk order.
__global__ void maxpool2x2_relu_backward_bias_kernel(const float* doutput, const uint8_t* argmax, const float* output,
                                                     int count, int channels, int side, float* dinput,
                                                     float* bias_grad, ChannelSumScratch scratch) {
  __shared__ float shared[kThreadsPerBlock];
  const int channel = static_cast<int>(blockIdx.y);
  const int chunks = static_cast<int>(gridDim.x);
  const int out_side = side / 2;
  const int plane = side * side;
  const SampleRange samples = chunk_samples(count, chunks, static_cast<int>(blockIdx.x));
  const int elements = (samples.end - samples.first) * plane;
  float sum = 0.0f;
  for (int j = static_cast<int>(threadIdx.x); j < elements; j += kThreadsPerBlock) {
    const int n = samples.first + j / plane;
    const int within = j % plane;
    const int y = within / side;
    const int x = within % side;
    const size_t plane_index = static_cast<size_t>(n) * channels + channel;
    const size_t out = plane_index * out_side * out_side + static_cast<size_t>(y / 2) * out_side + x / 2;
    const float gradient =
        math::maxpool2x2_relu_backward(output[out], doutput[out], argmax[out], (y % 2) * 2 + (x % 2));
    dinput[plane_index * plane + within] = gradient;
    sum += gradient;
  }
  finish_channel_sum<kThreadsPerBlock>(sum, shared, scratch, channel, bias_grad + channel);
}

void check_side(int side) {
  if (side <= 0 || side % 2 != 0) {
    throw Error("maxpool2x2: the input side must be even and positive, got " + std::to_string(side));
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Kernel launchers

void launch_maxpool2x2_forward(const float* input, int count, int channels, int side, float* output, uint8_t* argmax,
                               cudaStream_t stream) {
  check_side(side);
  const size_t outputs = static_cast<size_t>(count) * channels * (side / 2) * (side / 2);
  if (outputs == 0) return;
  maxpool2x2_forward_kernel<<<blocks_for(outputs), kThreadsPerBlock, 0, stream>>>(input, outputs, side, output,
                                                                                  argmax);
  CUDA_CHECK(cudaGetLastError());
}

void launch_maxpool2x2_relu_backward(const float* doutput, const uint8_t* argmax, const float* input, int count,
                                     int channels, int side, float* dinput, cudaStream_t stream) {
  check_side(side);
  const size_t inputs = static_cast<size_t>(count) * channels * side * side;
  if (inputs == 0) return;
  maxpool2x2_relu_backward_kernel<<<blocks_for(inputs), kThreadsPerBlock, 0, stream>>>(doutput, argmax, input,
                                                                                       inputs, side, dinput);
  CUDA_CHECK(cudaGetLastError());
}

void launch_bias_relu_maxpool2x2_forward(const float* input, const float* bias, int count, int channels, int side,
                                         float* output, uint8_t* argmax, float* activated, cudaStream_t stream) {
  check_side(side);
  const size_t outputs = static_cast<size_t>(count) * channels * (side / 2) * (side / 2);
  if (outputs == 0) return;
  bias_relu_maxpool2x2_forward_kernel<<<blocks_for(outputs), kThreadsPerBlock, 0, stream>>>(
      input, bias, outputs, channels, side, output, argmax, activated);
  CUDA_CHECK(cudaGetLastError());
}

void launch_maxpool2x2_relu_backward_bias(const float* doutput, const uint8_t* argmax, const float* output,
                                          int count, int channels, int side, float* dinput, float* bias_grad,
                                          const ChannelSumScratch& scratch, cudaStream_t stream) {
  check_side(side);
  if (count <= 0 || channels <= 0) return;
  check_spread_channels(channels);
  const int chunks = channel_sum_chunks(count, side * side);
  const dim3 grid(static_cast<unsigned int>(chunks), static_cast<unsigned int>(channels));
  maxpool2x2_relu_backward_bias_kernel<<<grid, kThreadsPerBlock, 0, stream>>>(doutput, argmax, output, count,
                                                                             channels, side, dinput, bias_grad,
                                                                             scratch);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace train_gpu::cuda
