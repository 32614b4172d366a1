#include "host/model/initializer.h"

#include <algorithm>
#include <cmath>

#include "host/common/random.h"

namespace train_gpu {

double glorot_limit(int64_t fan_in, int64_t fan_out) { return std::sqrt(6.0 / double(fan_in + fan_out)); }

namespace {

void fill_uniform(std::vector<float>& arena, size_t offset, size_t count, double limit, Rng& rng) {
  for (size_t i = 0; i < count; ++i) {
    arena[offset + i] = static_cast<float>((2.0 * double(rng.uniform01()) - 1.0) * limit);
  }
}

void fill(std::vector<float>& arena, const model::ArenaTensor& tensor, float value) {
  std::fill(arena.begin() + std::ptrdiff_t(tensor.offset), arena.begin() + std::ptrdiff_t(tensor.offset + tensor.count),
            value);
}

}  // namespace

ModelState initial_model_state(const model::NetworkSpec& spec, uint64_t seed) {
  using model::LayerKind;
  ModelState state;
  state.parameters.assign(spec.parameter_count, 0.0f);  // biases and beta stay zero
  state.adam_m.assign(spec.parameter_count, 0.0f);
  state.adam_v.assign(spec.parameter_count, 0.0f);
  state.buffers.assign(spec.buffer_count, 0.0f);  // moving means stay zero
  state.step = 0;
  Rng rng(seed);
  for (const model::LayerSpec& layer : spec.layers) {
    if (layer.parameter_tensors == 0 && layer.buffer_tensors == 0) continue;
    const model::ArenaTensor& first = spec.parameters[std::size_t(layer.first_parameter)];
    switch (layer.kind) {
      case LayerKind::kConv2D: {
        const int64_t receptive = int64_t{layer.kernel_h} * layer.kernel_w;
        fill_uniform(state.parameters, first.offset, first.count,
                     glorot_limit(receptive * layer.input.channels, receptive * layer.units), rng);
        break;
      }
      case LayerKind::kDense:
        fill_uniform(state.parameters, first.offset, first.count, glorot_limit(layer.input.size(), layer.units), rng);
        break;
      case LayerKind::kBatchNorm:
        fill(state.parameters, first, 1.0f);                                                    // gamma
        fill(state.buffers, spec.buffers[std::size_t(layer.first_buffer) + 1], 1.0f);           // moving variance
        break;
      default:
        break;
    }
  }
  return state;
}

ModelState initial_model_state(uint64_t seed) { return initial_model_state(model::tutorial_network(), seed); }

}  // namespace train_gpu
