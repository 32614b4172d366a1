// Which optimizer a run trains with, and the values it needs once per step. Plain data with
// __host__ __device__ functions: the CPU backend, the CUDA backend's eager launches and a
// replayed graph's device step counters (step_counters.h) all evaluate optimizer_step() and must
// agree bit for bit. Each optimizer's per-element math is a file of its own: adam_math.h,
// adamw_math.h, sgd_math.h, rmsprop_math.h.
//
// State: every optimizer keeps at most two arenas the size of the parameter arena, "slots"
// (ModelState::adam_m and adam_v, backend.h). Which slot holds what, and its checkpoint name:
//   adam, adamw:  slot 0 = m (optim.m.<tensor>), slot 1 = v (optim.v.<tensor>)
//   sgd:          slot 0 = velocity (optim.momentum.<tensor>; Keras calls it "momentum")
//   rmsprop:      slot 0 = momentum (optim.momentum.<tensor>), slot 1 = velocity (optim.velocity.<tensor>)
#pragma once

#include <cstdint>

#include "cuda/math/adam_math.h"
#include "cuda/math/host_device.h"
#include "cuda/math/lr_schedule_math.h"

namespace train_gpu::math {

enum class OptimizerKind : int32_t { kAdam = 0, kAdamW = 1, kSgd = 2, kRmsprop = 3 };

// Keras 3's defaults where the optimizers share a name; learning_rate 0 means "the optimizer's
// own Keras default" (0.01 for SGD, 0.001 for the others) until resolved by
// resolved_learning_rate().
struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::kAdam;
  float learning_rate = 1e-3f;
  float beta1 = 0.9f;          // adam, adamw
  float beta2 = 0.999f;        // adam, adamw
  float epsilon = 1e-7f;       // adam, adamw, rmsprop
  float weight_decay = 0.004f; // adamw
  float momentum = 0.0f;       // sgd, rmsprop
  bool nesterov = false;       // sgd
  float rho = 0.9f;            // rmsprop
};

// Keras's default learning rate of `kind`.
TG_HOST_DEVICE float default_learning_rate(OptimizerKind kind) { return kind == OptimizerKind::kSgd ? 0.01f : 1e-3f; }

// What one step's per-element updates read: the learning rate of this step (after the schedule)
// and, for Adam and AdamW, the bias-corrected step size of that rate at step t (1-based).
struct OptimizerStep {
  float learning_rate = 0;
  float step_size = 0;
};

TG_HOST_DEVICE OptimizerStep optimizer_step(const OptimizerConfig& config, float learning_rate, int64_t t) {
  OptimizerStep step;
  step.learning_rate = learning_rate;
  const bool adam = config.kind == OptimizerKind::kAdam || config.kind == OptimizerKind::kAdamW;
  step.step_size = adam ? adam_step_size(learning_rate, config.beta1, config.beta2, t) : learning_rate;
  return step;
}

// Step t's values on `schedule` from the run's base rate scaled by `lr_scale` (ReduceLROnPlateau's
// factor): what every eager step computes on the host, the CPU backend's and both CUDA backends'.
// A replayed graph's advance_counters (step_counters.h) evaluates the same two calls on the device.
inline OptimizerStep scheduled_optimizer_step(const OptimizerConfig& config, const LrSchedule& schedule, float lr_scale,
                                              int64_t t) {
  return optimizer_step(config, scheduled_learning_rate(schedule, config.learning_rate, lr_scale, t), t);
}

}  // namespace train_gpu::math
