// The CPU layer functions of the tutorial's CNN, float32, in the layout of model_spec.h
// (activations NCHW row-major, weights (out, in) row-major), and the whole network composed from
// them and from the fused convolution + pooling of cpu_conv_pool.h. The CPU backend runs a
// training step through network_forward/backward; the tests check each layer against a float64
// loop, and the CUDA backend's tests use the CPU backend as the reference.
//
// GEMMs go to cpu_gemm.h (oneDNN), so every matrix below is the row-major array it looks like;
// each call site in cpu_layers.cpp names the product it computes.
//
// Gradient mode: every function OVERWRITES its outputs (weight gradients too: beta = 0), so a
// training step needs no zeroing pass over the gradient arena.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "host/model/model_spec.h"

namespace train_gpu::cpu {

// The convolution and pooling layers live fused in cpu_conv_pool.h.

// ---------------------------------------------------------------------------------------------
// ReLU, elementwise (math::relu / math::relu_backward).

void relu_inplace(float* values, std::size_t count);
// gradient[i] = relu_backward(output[i], gradient[i]): the gradient w.r.t. the pre-activation,
// from the post-activation output. In place.
void relu_backward_inplace(const float* output, float* gradient, std::size_t count);

// ---------------------------------------------------------------------------------------------
// Dense (fully connected), weight (out_features, in_features) as in PyTorch.

// output (count, out) = input (count, in) · weight^T + bias (none when bias is null). Overwrites.
void dense_forward(const float* input, int count, int in_features, int out_features, const float* weight,
                   const float* bias, float* output);

// From doutput (count, out), the gradient w.r.t. the layer's output (pre-activation):
//   weight_grad (out, in) = doutput^T · input          (overwrites)
//   bias_grad (out)       = column sums of doutput     (overwrites; skipped when bias_grad is null)
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
  std::vector<float> pooled;         // (N, 5408) = (N, 32, 13, 13) flattened: conv + bias, ReLU, max pool
  std::vector<uint8_t> pool_argmax;  // (N, 5408): winner within each 2x2 window
  std::vector<float> hidden;         // (N, 128): fc1 after ReLU
  std::vector<float> logits;         // (N, 10)
  std::vector<float> dlogits;        // (N, 10): d(batch loss)/d logits, filled by the caller
  std::vector<float> dhidden;        // (N, 128)
  std::vector<float> dpooled;        // (N, 5408)
  std::vector<float> conv_gradients; // (N, kConvGradientFloatsPerImage): per-image partial sums
};

// Forward pass of workspace.images[0, count) with `parameters` (the arena of model_spec.h):
// fills pooled, pool_argmax, hidden and logits; conv_maps, when not null, receives the
// convolution's maps after ReLU, (count, 32, 26, 26).
void network_forward(const float* parameters, int count, NetworkWorkspace& workspace, float* conv_maps = nullptr);

// Backward pass from workspace.dlogits after network_forward on the same batch: overwrites the
// whole gradient arena `gradients` (model::kParameterCount floats, layout of model_spec.h).
void network_backward(const float* parameters, int count, NetworkWorkspace& workspace, float* gradients);

// True when no element of values[0, count) is NaN or infinite.
bool all_finite(const float* values, std::size_t count);

}  // namespace train_gpu::cpu
