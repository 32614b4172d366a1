// 2x2 max pooling, stride 2, over NCHW maps (see pool.cu and cuda/math/pool_math.h).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/kernels/bias_activation.h"

namespace train_gpu::cuda {

// output (count, channels, side/2, side/2) = window maxima of input (count, channels, side, side);
// argmax (same shape as output) = the winner's position dy*2+dx, first maximum on ties.
// side must be even. Overwrites output and argmax.
void launch_maxpool2x2_forward(const float* input, int count, int channels, int side, float* output, uint8_t* argmax,
                               cudaStream_t stream);

// dinput (count, channels, side, side) = doutput routed to each window's argmax and masked by the
// ReLU that produced `input` (input > 0), 0 elsewhere. `input` is the forward pass's input (the
// post-ReLU convolution output). Overwrites every element of dinput.
void launch_maxpool2x2_relu_backward(const float* doutput, const uint8_t* argmax, const float* input, int count,
                                     int channels, int side, float* dinput, cudaStream_t stream);

// The convolution's bias and ReLU folded into the pooling: output and argmax as
// launch_maxpool2x2_forward of relu(input + bias[c]), reading the convolution's raw output once.
// When activated is not null it also receives relu(input + bias[c]) (count, channels, side,
// side), e.g. the feature maps for `features`; it may be `input` itself (each window's four
// elements are read before they are written, and windows do not overlap).
void launch_bias_relu_maxpool2x2_forward(const float* input, const float* bias, int count, int channels, int side,
                                         float* output, uint8_t* argmax, float* activated, cudaStream_t stream);

// The backward of that, with the convolution's bias gradient in the same pass:
//   dinput = launch_maxpool2x2_relu_backward's result, with the ReLU mask taken from `output`
//            (the pooled maps: the winner's input is the window's output);
//   bias_grad[c] = sum over n, y, x of dinput[n][c][y][x]  (overwrites; deterministic).
// Spread over channel_sum_chunks(count, side * side) blocks per channel with `scratch`.
void launch_maxpool2x2_relu_backward_bias(const float* doutput, const uint8_t* argmax, const float* output,
                                          int count, int channels, int side, float* dinput, float* bias_grad,
                                          const ChannelSumScratch& scratch, cudaStream_t stream);

}  // namespace train_gpu::cuda
