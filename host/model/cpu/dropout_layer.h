// Dropout on the CPU: inverted (kept values scaled by 1/(1 - rate) in training), the identity in
// evaluation. The mask comes from cuda/math/dropout_math.h, keyed on (seed, step, layer index,
// element), so it is reproducible from the run's seed and step alone; it is kept (one byte per
// element) from forward to backward.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "host/model/cpu/cpu_layer.h"

namespace train_gpu::cpu {

class DropoutLayer final : public CpuLayer {
 public:
  DropoutLayer(const model::NetworkSpec& spec, int layer_index, int max_batch);
  void forward(const LayerForward& args) override;
  void backward(const LayerBackward& args) override;

  // The last training forward's mask, (count, features): 1 kept, 0 dropped (for the tests).
  const std::vector<uint8_t>& mask() const { return mask_; }

 private:
  int layer_index_;
  float rate_;
  std::size_t size_;  // floats per image
  std::vector<uint8_t> mask_;  // (max_batch, size)
};

}  // namespace train_gpu::cpu
