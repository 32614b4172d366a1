// Keras's default initialization: Glorot-uniform weights, zero biases; Adam state zeroed.
//   limit = sqrt(6 / (fan_in + fan_out)), w ~ U(-limit, limit)
//   conv: fan_in = 3*3*1, fan_out = 3*3*32 (Keras counts the receptive field on both sides)
//   fc1:  fan_in = 5408, fan_out = 128;   fc2: fan_in = 128, fan_out = 10
#pragma once

#include <cstdint>

#include "host/model/backend.h"

namespace train_gpu {

ModelState initial_model_state(uint64_t seed);

// The Glorot limit of a weight tensor given its fans (exposed for the tests).
double glorot_limit(int64_t fan_in, int64_t fan_out);

}  // namespace train_gpu
