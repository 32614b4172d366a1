// What every backend's set_state checks before it copies a ModelState in: each arena the size the
// network's spec gives it, and a step that is not negative. Header-only because both the CPU
// backend (host/) and the CUDA backend (cuda/, built into its own library) call it, with one
// message.
#pragma once

#include <cstddef>
#include <string>

#include "host/common/error.h"
#include "host/model/backend.h"
#include "host/model/network_spec.h"

namespace train_gpu {

inline void check_state_size(std::size_t size, const char* what, std::size_t expected, const char* unit) {
  if (size != expected) {
    throw Error(std::string("model state: ") + what + " has " + std::to_string(size) + " values; this model has " +
                std::to_string(expected) + " " + unit);
  }
}

// Throws an Error naming the first part of `state` that does not fit `spec`.
inline void check_model_state(const ModelState& state, const model::NetworkSpec& spec) {
  check_state_size(state.parameters.size(), "parameters", spec.parameter_count, "parameters");
  check_state_size(state.adam_m.size(), "adam_m", spec.parameter_count, "parameters");
  check_state_size(state.adam_v.size(), "adam_v", spec.parameter_count, "parameters");
  check_state_size(state.buffers.size(), "buffers", spec.buffer_count,
                   "buffer values (BatchNormalization's moving statistics)");
  if (state.step < 0) throw Error("model state: Adam step is " + std::to_string(state.step) + "; it must be >= 0");
}

}  // namespace train_gpu
