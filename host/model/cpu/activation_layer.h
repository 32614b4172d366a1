// Activations on the CPU: the functions Conv2D and Dense apply to their own outputs in place,
// and the stand-alone Activation layer (Keras's Activation/ReLU). The per-element math is
// cuda/math/activation_math.h's, shared with the GPU; every gradient comes from the output.
// Softmax is never run here: as the last activation it is folded into the loss.
#pragma once

#include <cstddef>

#include "host/model/cpu/cpu_layer.h"

namespace train_gpu::cpu {

// values = f(values), `count` elements.
void activation_forward(model::Activation activation, float* values, std::size_t count);
// gradient = f'(pre-activation) * gradient, from the activation's output; in place.
void activation_backward(model::Activation activation, const float* output, float* gradient, std::size_t count);

class ActivationLayer final : public CpuLayer {
 public:
  explicit ActivationLayer(const model::LayerSpec& layer);
  void forward(const LayerForward& args) override;
  void backward(const LayerBackward& args) override;

 private:
  model::Activation activation_;
  std::size_t size_;  // floats per image
};

}  // namespace train_gpu::cpu
