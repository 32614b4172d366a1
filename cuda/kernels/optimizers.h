// AdamW, SGD and RMSprop over the whole parameter arena in one launch each (see optimizers.cu);
// Adam, the default, keeps its own kernel (adam.h).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "cuda/kernels/device_totals.h"
#include "cuda/math/optimizer_math.h"
#include "cuda/math/step_counters.h"

namespace train_gpu::cuda {

// For i in [0, count): parameters[i] and the optimizer's slots (slot0, slot1; optimizer_math.h
// says which holds what) updated in place by config's per-element math, reading the step's
// learning rate and step size (math::optimizer_step) from `learning_rate` and `step_size`: host
// values for eager launches, device counters in a replayed graph. gradients are read only; with
// nonfinite_totals a NaN or infinite gradient is recorded as launch_flag_nonfinite would; with
// gradient_scale (--clip-norm: GradientClip::scale(), device memory) each gradient is multiplied
// by it first. config.kind must not be kAdam (launch_adam runs that).
void launch_optimizer(const math::OptimizerConfig& config, float* parameters, const float* gradients, float* slot0,
                      float* slot1, std::size_t count, math::PerStep<float> learning_rate,
                      math::PerStep<float> step_size, cudaStream_t stream, DeviceTotals* nonfinite_totals = nullptr,
                      const float* gradient_scale = nullptr);

}  // namespace train_gpu::cuda
