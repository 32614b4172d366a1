// Parameters whose loss is finite but whose fc1 weight gradient overflows float32: the batch that
// only the gradients' own finite check can flag. (Non-finite parameters make the loss NaN too,
// so the loss check alone catches those.) A batch it misses becomes NaN weights after Adam
// (inf / inf) that a checkpoint saves as good when it is the epoch's last.
//
// From any sensible state: conv.weight = 1e37, fc1.weight = 2e-38 (a normal float, above
// 1.18e-38, so flushing denormals leaves it alone), fc2.weight x 100. With pixels in [0, 1] the
// 3x3 conv outputs reach 9e37 (finite), so the pooled features p are ~1e37..9e37; each hidden unit
// sums 5,408 products 2e-38 p of order 1 (~1e3..1e4, finite, positive, past the ReLU); the logits,
// fc2 x 100 times those, are ~1e5..1e6 apart: a loss of that size, finite. Backward, dL/dh is
// fc2 x 100 times (softmax - one-hot) / N, order 10 / N, and dL/dfc1.weight = sum over the batch
// of dL/dh times p: ~1e38..1e39 per element, past float32's 3.4e38, so +-inf.
#pragma once

#include "host/model/backend.h"
#include "host/model/model_spec.h"

namespace train_gpu::testing {

inline void make_fc1_gradient_overflow(ModelState& state) {
  float* parameters = state.parameters.data();
  for (std::size_t i = 0; i < model::kConvWeightCount; ++i) parameters[model::kConvWeightOffset + i] = 1e37f;
  for (std::size_t i = 0; i < model::kFc1WeightCount; ++i) parameters[model::kFc1WeightOffset + i] = 2e-38f;
  for (std::size_t i = 0; i < model::kFc2WeightCount; ++i) parameters[model::kFc2WeightOffset + i] *= 100.0f;
}

}  // namespace train_gpu::testing
