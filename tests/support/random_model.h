// Seeded random weights for tests that need a model whose outputs vary (not a trained one): each
// tensor uniform in +-scale, with Glorot-like scales that keep every layer's activations O(1),
// so the logits spread out and every weight matters. As a checkpoint when a file is needed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "host/common/random.h"
#include "host/model/model_spec.h"
#include "host/train/checkpoint.h"

namespace train_gpu::testing {

inline std::vector<float> random_parameters(uint64_t seed) {
  // conv.weight, conv.bias, fc1.weight, fc1.bias, fc2.weight, fc2.bias
  const float scales[model::kTensorCount] = {0.8f, 0.1f, 0.05f, 0.1f, 0.3f, 0.1f};
  Rng rng(seed);
  std::vector<float> parameters(model::kParameterCount);
  for (int i = 0; i < model::kTensorCount; ++i) {
    const model::TensorSpec& spec = model::kParameterTensors[i];
    for (std::size_t k = 0; k < spec.count; ++k) parameters[spec.offset + k] = (2.0f * rng.uniform01() - 1.0f) * scales[i];
  }
  return parameters;
}

// A checkpoint of `parameters` with zero Adam moments, as if saved after `step` steps of epoch 1.
inline Checkpoint checkpoint_of(std::vector<float> parameters, const std::string& dataset = "mnist", int64_t step = 938) {
  Checkpoint checkpoint;
  checkpoint.state.parameters = std::move(parameters);
  checkpoint.state.adam_m.assign(model::kParameterCount, 0.0f);
  checkpoint.state.adam_v.assign(model::kParameterCount, 0.0f);
  checkpoint.state.step = step;
  checkpoint.metadata.epoch = 1;
  checkpoint.metadata.dataset = dataset;
  return checkpoint;
}

}  // namespace train_gpu::testing
