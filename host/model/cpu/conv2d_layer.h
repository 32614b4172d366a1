// Conv2D on the CPU through oneDNN's convolution primitives (forward_training, backward_data,
// backward_weights), plain NCHW activations and PyTorch's (filters, in_channels, kh, kw) weights
// at the layer's boundary, each primitive running in the blocked layouts it chose inside
// (onednn_layout.h), TensorFlow's asymmetric same padding from the spec, optional bias; ReLU
// fused into the forward convolution, any other activation applied in place to its output.
// Primitive descriptors and the reordered buffers are created once per batch size and cached.
//
// With `winograd`, the forward pass and the weight gradients of a 3x3 stride-1 convolution run
// oneDNN's Winograd F(4x4, 3x3) kernels where it has them (it checks channels, padding and the
// CPU's instruction set; elsewhere, direct): on the Simple MNIST convnet's 32 -> 64 convolution
// they take about 0.6x the direct kernels' time (docs/performance.md). The input gradient stays
// direct: there oneDNN's Winograd kernel was slower than the direct one. Winograd computes the
// same sums through 6x6 tile transforms, whose rounding can exceed a direct sum's; measured
// against float64 it stayed of the same size (tests/cpu_network_test.cpp).
#pragma once

#include <cstddef>
#include <memory>

#include <oneapi/dnnl/dnnl.hpp>

#include "host/model/cpu/cpu_layer.h"
#include "host/model/cpu/per_batch_cache.h"

namespace train_gpu::cpu {

class Conv2DLayer final : public CpuLayer {
 public:
  Conv2DLayer(const model::NetworkSpec& spec, int layer_index, bool winograd = false);
  ~Conv2DLayer() override;
  void forward(const LayerForward& args) override;
  void backward(const LayerBackward& args) override;

  // For a pooling layer right after this one (pooling_layer.h), which then pools the output in
  // the blocked layout the convolution wrote it in instead of reading the plain copy, and writes
  // d loss / d output into doutput, blocked, for backward to read instead of args.doutput: the
  // reorders of the output gradient, and the pooling's own transposition of plain NCHW, are
  // saved. Empty memories when the convolution's layouts are plain, or its activation is other
  // than ReLU or linear (the handoff applies those in the blocked layout): the pooling layer then
  // uses the plain arrays. Both stay valid as long as the layer.
  struct BlockedHandoff {
    dnnl::memory output, doutput;
  };
  BlockedHandoff blocked_handoff(int count);

  // True when this layer's forward pass and weight gradients run Winograd (asked for, and oneDNN
  // has a kernel for the layer on this CPU).
  bool winograd() const { return winograd_; }

 private:
  struct Primitives;
  std::unique_ptr<Primitives> build(int count) const;
  Primitives& primitives(int count);
  // The forward primitive's descriptor with `algorithm`; throws dnnl::error where oneDNN has no
  // kernel for it.
  dnnl::convolution_forward::primitive_desc forward_desc(int count, dnnl::algorithm algorithm) const;

  model::LayerSpec layer_;
  bool winograd_ = false;
  std::size_t weight_offset_;
  std::ptrdiff_t bias_offset_;  // -1: no bias
  PerBatchCache<Primitives> cache_;
};

}  // namespace train_gpu::cpu
