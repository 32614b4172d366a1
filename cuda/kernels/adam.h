// Adam over the whole parameter arena in one launch (see adam.cu).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "cuda/kernels/device_totals.h"

namespace train_gpu::cuda {

// For i in [0, count): parameters[i], m[i], v[i] updated in place by math::adam_update with the
// host-computed step_size = math::adam_step_size(lr, beta1, beta2, t). gradients are read only.
// When nonfinite_totals is not null, a NaN or infinite gradient is also recorded there as
// launch_flag_nonfinite would (nonfinite.h), in the same pass. When gradient_scale is not null
// (--clip-norm: GradientClip::scale(), device memory) each gradient is multiplied by it first;
// null runs the plain kernel.
void launch_adam(float* parameters, const float* gradients, float* m, float* v, std::size_t count, float beta1,
                 float beta2, float step_size, float epsilon, cudaStream_t stream,
                 DeviceTotals* nonfinite_totals = nullptr, const float* gradient_scale = nullptr);

// The same with the step size read from device memory when the kernel runs (a replayed CUDA
// graph's StepCounters::adam_step_size, cuda/math/step_counters.h).
void launch_adam_at_counters(float* parameters, const float* gradients, float* m, float* v, std::size_t count,
                             float beta1, float beta2, const float* step_size_on_device, float epsilon,
                             cudaStream_t stream, DeviceTotals* nonfinite_totals = nullptr,
                             const float* gradient_scale = nullptr);

}  // namespace train_gpu::cuda
