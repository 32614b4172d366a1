// 2x2 max pooling, stride 2, over NCHW maps (see pool.cu and cuda/math/pool_math.h).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

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

}  // namespace train_gpu::cuda
