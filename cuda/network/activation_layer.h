// Activations on the GPU: the functions Conv2D and Dense apply to their own outputs in place,
// and the stand-alone Activation layer (Keras's Activation/ReLU); the twin of
// host/model/cpu/activation_layer.h, with the same per-element math (cuda/math/activation_math.h).
// Every gradient comes from the output. Softmax is never run here: as the last activation it
// is folded into the loss.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "cuda/network/cuda_layer.h"

namespace train_gpu::cuda {

// values = f(values), `count` elements, in place; nothing launched for linear/softmax.
void launch_activation_forward(model::Activation activation, float* values, std::size_t count, cudaStream_t stream);
// gradient = f'(pre-activation) * gradient, from the activation's output; in place.
void launch_activation_backward(model::Activation activation, const float* output, float* gradient, std::size_t count,
                                cudaStream_t stream);

class ActivationLayer final : public CudaLayer {
 public:
  explicit ActivationLayer(const model::LayerSpec& layer);
  void forward(const LayerForward& args) override;
  void backward(const LayerBackward& args) override;

 private:
  model::Activation activation_;
  std::size_t size_;  // floats per image
};

}  // namespace train_gpu::cuda
