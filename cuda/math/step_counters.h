// The per-step values of a training step that a replayed CUDA graph cannot take as launch
// arguments (a captured launch replays its arguments as they were at capture): where the batch
// starts in the pass's order, and the optimizer's step count t with the step's learning rate
// (after the schedule, lr_schedule_math.h) and Adam's bias-corrected step size. They
// live in device memory, the kernels read them there, and the step advances them itself, so a
// replay needs no host work but cudaGraphLaunch. Eager launches pass the same values by
// argument instead; PerStep<T> is the one parameter type for both.
//
// Plain C++ with __host__ __device__ functions, so the bookkeeping is tested on the CPU; the
// device runs the same advance_counters() from the step's last kernel (softmax_xent.cu).
#pragma once

#include <cstdint>

#include "cuda/math/host_device.h"
#include "cuda/math/lr_schedule_math.h"
#include "cuda/math/optimizer_math.h"

namespace train_gpu::math {

struct StepCounters {
  int64_t cursor[2];     // first position of the next batch in the order of split 0 (train), 1 (test)
  int64_t adam_step;     // the optimizer's t: updates applied so far, including the one being computed
  float adam_step_size;  // optimizer_step(...).step_size at adam_step: what Adam reads
  float learning_rate;   // the scheduled rate at adam_step: what SGD, RMSprop and AdamW's decay read
  float lr_scale;        // ReduceLROnPlateau's scale, set by the host between epochs (1 otherwise)
};

// What one batch moves, captured by value in the launch that applies it.
struct StepAdvance {
  int split = 0;          // whose cursor moves
  int count = 0;          // by the batch's size
  bool adam = false;      // a training step: t += 1, a new learning rate and step size
  OptimizerConfig optimizer;
  LrSchedule schedule;
};

// Applied once per batch, after the batch was gathered and before Adam runs.
TG_HOST_DEVICE void advance_counters(StepCounters& counters, const StepAdvance& advance) {
  counters.cursor[advance.split] += advance.count;
  if (advance.adam) {
    counters.adam_step += 1;
    const float learning_rate = scheduled_learning_rate(advance.schedule, advance.optimizer.learning_rate,
                                                        counters.lr_scale, counters.adam_step);
    const OptimizerStep step = optimizer_step(advance.optimizer, learning_rate, counters.adam_step);
    counters.learning_rate = step.learning_rate;
    counters.adam_step_size = step.step_size;
  }
}

// A per-step kernel argument: read from device memory when `device` is set (graph replay), else
// the host's `value` (eager launch).
template <typename T>
struct PerStep {
  const T* device = nullptr;
  T value{};

  TG_HOST_DEVICE T get() const { return device != nullptr ? *device : value; }
};

template <typename T>
inline PerStep<T> per_step_value(T value) {
  return PerStep<T>{nullptr, value};
}

template <typename T>
inline PerStep<T> per_step_on_device(const T* device) {
  return PerStep<T>{device, T{}};
}

// The optimizer step t of the training batch whose forward pass is running: what Dropout keys its
// masks on (dropout_math.h). An eager launch passes t itself; a replayed graph points at
// StepCounters::adam_step, which still holds t - 1 during the forward pass (the loss kernel
// advances it afterwards, advance_counters), hence the + 1.
TG_HOST_DEVICE int64_t forward_step(const PerStep<int64_t>& step) {
  return step.device != nullptr ? *step.device + 1 : step.value;
}

}  // namespace train_gpu::math
