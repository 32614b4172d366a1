// Conv2D on the CPU through oneDNN's convolution primitives (forward_training, backward_data,
// backward_weights), plain NCHW activations and PyTorch's (filters, in_channels, kh, kw) weights
// at the layer's boundary, each primitive running in the blocked layouts it chose inside
// (onednn_layout.h), TensorFlow's asymmetric same padding from the spec, optional bias; ReLU
// fused into the forward convolution, any other activation applied in place to its output.
// Primitive descriptors and the reordered buffers are created once per batch size and cached.
#pragma once

#include <cstddef>
#include <memory>

#include <oneapi/dnnl/dnnl.hpp>

#include "host/model/cpu/cpu_layer.h"
#include "host/model/cpu/per_batch_cache.h"

namespace train_gpu::cpu {

class Conv2DLayer final : public CpuLayer {
 public:
  Conv2DLayer(const model::NetworkSpec& spec, int layer_index);
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

 private:
  struct Primitives;
  std::unique_ptr<Primitives> build(int count) const;
  Primitives& primitives(int count);

  model::LayerSpec layer_;
  std::size_t weight_offset_;
  std::ptrdiff_t bias_offset_;  // -1: no bias
  PerBatchCache<Primitives> cache_;
};

}  // namespace train_gpu::cpu
