// Dropout on the GPU: inverted (kept values scaled by 1/(1 - rate) in training), the identity in
// evaluation; the twin of host/model/cpu/dropout_layer.h. The mask is cuda/math/dropout_math.h's
// Philox draw keyed on (seed, step, layer index, element), element i of the (count, features)
// activation from block i / 4, word i % 4, exactly as the CPU layer takes it: both backends drop
// the same elements at the same step. It is kept (one byte per element) for backward.
#pragma once

#include <cstddef>
#include <cstdint>

#include "cuda/memory.h"
#include "cuda/network/cuda_layer.h"

namespace train_gpu::cuda {

class DropoutLayer final : public CudaLayer {
 public:
  DropoutLayer(const model::NetworkSpec& spec, int layer_index, int max_batch);
  void forward(const LayerForward& args) override;
  void backward(const LayerBackward& args) override;

  // The last forward's mask on the device, (count, features): 1 kept, 0 dropped (for the tests).
  const DeviceBuffer<uint8_t>& mask() const { return mask_; }

 private:
  int layer_index_;
  float rate_;
  std::size_t size_;  // floats per image
  DeviceBuffer<uint8_t> mask_;  // (max_batch, size)
};

}  // namespace train_gpu::cuda
