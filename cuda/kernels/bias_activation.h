// Bias, ReLU and bias-gradient kernels for tensors laid out (count, channels, plane): NCHW
// convolution maps have plane = H*W; dense activations (count, features) have plane = 1.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

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

}  // namespace train_gpu::cuda
