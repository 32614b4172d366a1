// Keras's default initialization: Glorot-uniform weights, zero biases, BatchNormalization's
// gamma 1, beta 0, moving mean 0 and moving variance 1; Adam state zeroed.
//   limit = sqrt(6 / (fan_in + fan_out)), w ~ U(-limit, limit)
//   Conv2D: fan_in = kh*kw*in_channels, fan_out = kh*kw*filters (Keras counts the receptive field on both sides)
//   Dense:  fan_in = in_features, fan_out = units
// The weight tensors are drawn in arena order from one generator seeded with `seed`; for the
// tutorial that is conv, fc1, fc2, the order the generator always ran in.
#pragma once

#include <cstdint>

#include "host/model/backend.h"
#include "host/model/network_spec.h"

namespace train_gpu {

ModelState initial_model_state(const model::NetworkSpec& spec, uint64_t seed);
// The tutorial network's.
ModelState initial_model_state(uint64_t seed);

// The Glorot limit of a weight tensor given its fans (exposed for the tests).
double glorot_limit(int64_t fan_in, int64_t fan_out);

}  // namespace train_gpu
