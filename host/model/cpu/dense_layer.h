// Dense (Keras's Dense, PyTorch's Linear) on the CPU: weight (units, in_features), optional bias,
// its activation applied in place to its output. The products are cpu_layers.h's
// dense_forward/dense_backward (oneDNN's sgemm), the tutorial's own, so a tutorial network built
// from these layers computes what it always did, bit for bit.
#pragma once

#include <cstddef>

#include "host/model/cpu/cpu_layer.h"

namespace train_gpu::cpu {

class DenseLayer final : public CpuLayer {
 public:
  explicit DenseLayer(const model::NetworkSpec& spec, int layer_index);
  void forward(const LayerForward& args) override;
  void backward(const LayerBackward& args) override;

 private:
  int in_features_, units_;
  model::Activation activation_;
  std::size_t weight_offset_;
  std::ptrdiff_t bias_offset_;  // -1: no bias
};

}  // namespace train_gpu::cpu
