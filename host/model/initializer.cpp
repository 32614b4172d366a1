#include "host/model/initializer.h"

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

}  // namespace

ModelState initial_model_state(uint64_t seed) {
  using namespace model;
  ModelState state;
  state.parameters.assign(kParameterCount, 0.0f);  // biases stay zero
  state.adam_m.assign(kParameterCount, 0.0f);
  state.adam_v.assign(kParameterCount, 0.0f);
  state.step = 0;
  Rng rng(seed);
  const int64_t receptive = int64_t{kConvKernel} * kConvKernel;
  fill_uniform(state.parameters, kConvWeightOffset, kConvWeightCount, glorot_limit(receptive * 1, receptive * kConvFilters), rng);
  fill_uniform(state.parameters, kFc1WeightOffset, kFc1WeightCount, glorot_limit(kFlatFeatures, kHidden), rng);
  fill_uniform(state.parameters, kFc2WeightOffset, kFc2WeightCount, glorot_limit(kHidden, kClasses), rng);
  return state;
}

}  // namespace train_gpu
