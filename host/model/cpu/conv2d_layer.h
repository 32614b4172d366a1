// Conv2D on the CPU through oneDNN's convolution primitives (forward_training, backward_data,
// backward_weights), plain NCHW activations and PyTorch's (filters, in_channels, kh, kw) weights
// at the layer's boundary, each primitive running in the blocked layouts it chose inside
// (onednn_layout.h), TensorFlow's asymmetric same padding from the spec, optional bias; ReLU
// fused into the forward convolution, any other activation applied in place to its output.
// Primitive descriptors and the reordered buffers are created once per batch size and cached.
#pragma once

#include <cstddef>
#include <memory>

#include "host/model/cpu/cpu_layer.h"
#include "host/model/cpu/per_batch_cache.h"

namespace train_gpu::cpu {

class Conv2DLayer final : public CpuLayer {
 public:
  Conv2DLayer(const model::NetworkSpec& spec, int layer_index);
  ~Conv2DLayer() override;
  void forward(const LayerForward& args) override;
  void backward(const LayerBackward& args) override;

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
