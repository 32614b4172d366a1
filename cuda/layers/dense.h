// Dense (fully connected) layers on cuBLAS (see dense.cu). Biases are added by
// launch_bias_activation and their gradients come from launch_channel_sum (plane = 1).
// The row-major <-> column-major mapping is stated once, in gemm_mapping.h.
//
// All functions run on the stream the handle is bound to and OVERWRITE their output (beta = 0).
#pragma once

#include <cublas_v2.h>

namespace train_gpu::cuda {

// output (count, out) = input (count, in) · weight (out, in)^T. No bias.
void dense_forward(cublasHandle_t cublas, const float* input, const float* weight, int count, int in_features,
                   int out_features, float* output);

// weight_grad (out, in) = doutput (count, out)^T · input (count, in).
void dense_backward_weight(cublasHandle_t cublas, const float* input, const float* doutput, int count,
                           int in_features, int out_features, float* weight_grad);

// dinput (count, in) = doutput (count, out) · weight (out, in).
void dense_backward_input(cublasHandle_t cublas, const float* doutput, const float* weight, int count,
                          int in_features, int out_features, float* dinput);

}  // namespace train_gpu::cuda
