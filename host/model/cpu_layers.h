// The CPU layer functions of the tutorial's CNN, float32, in the layout of model_spec.h
// (activations NCHW row-major, weights (out, in) row-major; the one exception, the
// convolution's batch-wide CNHW maps, is explained below). The CPU backend composes them into
// a training step; the tests check each against a float64 loop, and the CUDA backend's tests
// use them as the reference.
//
// GEMMs go to OpenBLAS's cblas_sgemm, so every matrix below is the row-major array it looks like;
// each call site in cpu_layers.cpp names the product it computes (one, the convolution's weight
// gradient, is issued as its column-major transpose because OpenBLAS runs that shape faster).
//
// Gradient mode: every function OVERWRITES its outputs (weight gradients too: beta = 0), so a
// training step needs no zeroing pass over the gradient arena.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "host/model/model_spec.h"

namespace train_gpu::cpu {

// ---------------------------------------------------------------------------------------------
// Convolution: one input channel, kConvKernel x kConvKernel (3x3) filters, valid, stride 1.
//
// The convolution works in CHANNEL-MAJOR layout, (filters, count, out, out) = CNHW, so that the
// whole batch is ONE GEMM each way (W (32, 9) · columns (9, N*676)) rather than N small ones: a
// (32 x 676 x 9) GEMM per image is too small for OpenBLAS to thread and pays its packing and
// dispatch N times. The pooling reads CNHW and writes NCHW, so from the pooled features on
// (and in everything the Backend shows: activations() is one image, where CNHW = NCHW) the
// layout is the model_spec.h one.

// Rows of the im2col matrix: one per kernel tap (ky * 3 + kx).
constexpr int kConvTaps = model::kConvKernel * model::kConvKernel;  // 9

// im2col of `count` images (count, side, side) into columns (9, count * out * out), out = side - 2:
// columns[ky*3+kx][(n*out + y)*out + x] = image[n][y+ky][x+kx]. Overwrites.
void im2col_3x3(const float* images, int count, int side, float* columns);

// output (filters, count, out, out) = relu(weight (filters, 9) · columns (9, count*out*out) + bias).
// `columns` comes from im2col_3x3 and is kept for conv_backward_params. Overwrites `output`.
void conv_forward_relu(const float* columns, int count, int out_side, int filters, const float* weight,
                       const float* bias, float* output);

// Parameter gradients from doutput (filters, count, out, out), the gradient w.r.t. the
// convolution's PRE-activation (ReLU backward already applied):
//   weight_grad (filters, 9) = doutput (filters, count*out*out) · columns^T
//   bias_grad (filters)      = sum over n, y, x of doutput
// Overwrites both. No input gradient: the convolution is the network's first layer.
void conv_backward_params(const float* columns, const float* doutput, int count, int out_side, int filters,
                          float* weight_grad, float* bias_grad);

// ---------------------------------------------------------------------------------------------
// Max pooling 2x2, stride 2, side even; reads the convolution's CNHW, writes NCHW.

// input (channels, count, side, side) -> output (count, channels, side/2, side/2) = window
// maxima; argmax (same shape as output) = the winner's position in its window, dy * 2 + dx, the
// first in row-major order on ties. Overwrites both.
void maxpool2x2_forward(const float* input, int count, int channels, int side, float* output, uint8_t* argmax);

// dinput (channels, count, side, side) = doutput (count, channels, side/2, side/2) routed to each
// window's argmax, 0 elsewhere. Overwrites dinput entirely.
void maxpool2x2_backward(const float* doutput, const uint8_t* argmax, int count, int channels, int side,
                         float* dinput);

// ---------------------------------------------------------------------------------------------
// ReLU, elementwise (math::relu / math::relu_backward).

void relu_inplace(float* values, std::size_t count);
// gradient[i] = relu_backward(output[i], gradient[i]): the gradient w.r.t. the pre-activation,
// from the post-activation output. In place.
void relu_backward_inplace(const float* output, float* gradient, std::size_t count);

// ---------------------------------------------------------------------------------------------
// Dense (fully connected), weight (out_features, in_features) as in PyTorch.

// output (count, out) = input (count, in) · weight^T + bias. Overwrites.
void dense_forward(const float* input, int count, int in_features, int out_features, const float* weight,
                   const float* bias, float* output);

// From doutput (count, out), the gradient w.r.t. the layer's output (pre-activation):
//   weight_grad (out, in) = doutput^T · input          (overwrites)
//   bias_grad (out)       = column sums of doutput     (overwrites)
//   dinput (count, in)    = doutput · weight           (overwrites; skipped when dinput is null)
void dense_backward(const float* input, const float* doutput, int count, int in_features, int out_features,
                    const float* weight, float* weight_grad, float* bias_grad, float* dinput);

// ---------------------------------------------------------------------------------------------
// The whole network, composed from the layers above.

// Every activation and activation gradient of one batch, allocated once for max_batch images
// so that a training step never allocates.
struct NetworkWorkspace {
  explicit NetworkWorkspace(int max_batch);

  int max_batch;
  std::vector<float> images;         // (N, 1, 28, 28), scaled to [0,1]
  std::vector<float> columns;        // (9, N * 676): im2col of the images
  std::vector<float> conv_relu;      // (32, N, 26, 26) CNHW: convolution + bias, after ReLU
  std::vector<float> pooled;         // (N, 5408) = (N, 32, 13, 13) flattened
  std::vector<uint8_t> pool_argmax;  // (N, 5408): winner within each 2x2 window
  std::vector<float> hidden;         // (N, 128): fc1 after ReLU
  std::vector<float> logits;         // (N, 10)
  std::vector<float> dlogits;        // (N, 10): d(batch loss)/d logits, filled by the caller
  std::vector<float> dhidden;        // (N, 128)
  std::vector<float> dpooled;        // (N, 5408)
  std::vector<float> dconv;          // (32, N, 26, 26) CNHW: w.r.t. the conv's pre-activation
};

// Forward pass of workspace.images[0, count) with `parameters` (the arena of model_spec.h):
// fills columns, conv_relu, pooled, pool_argmax, hidden and logits.
void network_forward(const float* parameters, int count, NetworkWorkspace& workspace);

// Backward pass from workspace.dlogits after network_forward on the same batch: overwrites the
// whole gradient arena `gradients` (model::kParameterCount floats, layout of model_spec.h).
void network_backward(const float* parameters, int count, NetworkWorkspace& workspace, float* gradients);

// True when no element of values[0, count) is NaN or infinite.
bool all_finite(const float* values, std::size_t count);

}  // namespace train_gpu::cpu
