// Learning-rate schedules as closed forms of the step: the learning rate of training step t
// (1-based: the first update is t = 1) from the schedule, the optimizer's base rate and a scale
// that only ReduceLROnPlateau changes (between epochs). The CPU backend and the CUDA backend's
// eager launches evaluate it on the host; a replayed CUDA graph evaluates the same function on
// the device from its own step counter (step_counters.h), so no step needs the host.
//
// With e = (t - 1) / steps_per_epoch (whole epochs completed before the step):
//   constant     lr                                            (Keras: a float; PyTorch: no scheduler)
//   step         lr * gamma^floor(e / step_epochs)             (PyTorch StepLR, stepped per epoch)
//   exponential  lr * gamma^e                                  (PyTorch ExponentialLR per epoch;
//                                                               Keras ExponentialDecay staircase)
//   cosine       warm-up for W = warmup_epochs * steps_per_epoch steps: lr * t / W;
//                then, k = t - W - 1 steps into D = (decay_epochs - warmup_epochs) * steps_per_epoch:
//                lr_min + (lr - lr_min) * (1 + cos(pi * min(k, D) / D)) / 2
//                                                              (Keras CosineDecay with warmup, per step;
//                                                               PyTorch CosineAnnealingLR per step)
//   plateau      lr * scale                                    (Keras ReduceLROnPlateau, PyTorch ReduceLROnPlateau)
// Past its horizon the cosine stays at lr_min. Computed in double, rounded to float once. The
// constant schedule returns lr itself: the default path's rate is bit-identical to having none.
//
// Host and device agree bit for bit for constant, step, exponential and plateau (correctly
// rounded operations only, rounded_float.h); the cosine's cos() may differ in the last bit of a
// double between libm and CUDA, which survives the rounding to float only at a near-tie.
#pragma once

#include <math.h>

#include <cstdint>

#include "cuda/math/host_device.h"
#include "cuda/math/rounded_float.h"

namespace train_gpu::math {

enum class LrScheduleKind : int32_t { kConstant = 0, kStep = 1, kExponential = 2, kCosine = 3, kPlateau = 4 };

struct LrSchedule {
  LrScheduleKind kind = LrScheduleKind::kConstant;
  int64_t steps_per_epoch = 1;  // the trainer's batches per epoch
  int64_t step_epochs = 10;     // step: epochs between decays (PyTorch StepLR's step_size)
  float gamma = 0.1f;           // step, exponential: the factor per decay; plateau: the factor per plateau
  float min_lr = 0.0f;          // cosine: the rate at the end (PyTorch eta_min, Keras alpha * lr)
  int64_t warmup_epochs = 0;    // cosine: linear warm-up epochs
  int64_t decay_epochs = 1;     // cosine: the epoch the cosine reaches min_lr (warm-up included)
};

inline bool same_schedule(const LrSchedule& a, const LrSchedule& b) {
  return a.kind == b.kind && a.steps_per_epoch == b.steps_per_epoch && a.step_epochs == b.step_epochs &&
         a.gamma == b.gamma && a.min_lr == b.min_lr && a.warmup_epochs == b.warmup_epochs &&
         a.decay_epochs == b.decay_epochs;
}

#if defined(__CUDACC__)
// Out of line on the device: cos() is libdevice code built on fused multiply-adds, kept out of
// the PTX of advance_step_counters that tests/gpu/adam_ptx_test.cpp checks for fma.
inline __host__ __device__ __noinline__
#else
inline
#endif
float scheduled_learning_rate(const LrSchedule& schedule, float learning_rate, float scale, int64_t t) {
  const int64_t per_epoch = schedule.steps_per_epoch > 0 ? schedule.steps_per_epoch : 1;
  const int64_t epoch = t > 0 ? (t - 1) / per_epoch : 0;
  const double lr = double(learning_rate);
  switch (schedule.kind) {
    case LrScheduleKind::kConstant:
      return learning_rate;
    case LrScheduleKind::kPlateau:
      return to_float_rn(mul_rn(lr, double(scale)));
    case LrScheduleKind::kStep: {
      const int64_t every = schedule.step_epochs > 0 ? schedule.step_epochs : 1;
      return to_float_rn(mul_rn(lr, power_rn(double(schedule.gamma), epoch / every)));
    }
    case LrScheduleKind::kExponential:
      return to_float_rn(mul_rn(lr, power_rn(double(schedule.gamma), epoch)));
    case LrScheduleKind::kCosine: {
      const int64_t warmup = schedule.warmup_epochs * per_epoch;
      if (t <= warmup) return to_float_rn(div_rn(mul_rn(lr, double(t)), double(warmup)));
      const int64_t decay = (schedule.decay_epochs - schedule.warmup_epochs) * per_epoch;
      if (decay <= 0) return schedule.min_lr;
      const int64_t k = t - warmup - 1 < decay ? t - warmup - 1 : decay;
      const double pi = 3.14159265358979323846;
      const double cosine = cos(div_rn(mul_rn(pi, double(k)), double(decay)));
      const double lr_min = double(schedule.min_lr);
      return to_float_rn(add_rn(lr_min, mul_rn(sub_rn(lr, lr_min), mul_rn(0.5, add_rn(1.0, cosine)))));
    }
  }
  return learning_rate;
}

}  // namespace train_gpu::math
