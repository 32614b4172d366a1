// AdamW, SGD and RMSprop, each one grid-stride launch over the parameter arena, as adam.cu is
// for Adam: parameters, gradients and the two state slots are arenas of one layout, so every
// tensor is updated at once whatever the model (llm.c's adamw.cuh). The per-element math is the
// shared __host__ __device__ code the CPU backend runs (cuda/math/adamw_math.h, sgd_math.h,
// rmsprop_math.h), rounded operation by operation, so the two agree bit for bit; the per-step
// learning rate and step size come by value (eager) or from the device counters (graph replay,
// cuda/math/step_counters.h). The non-finite gradient check of --kernels fused rides along.
#include "cuda/kernels/optimizers.h"

#include <math.h>

#include "cuda/check.h"
#include "cuda/kernels/launch_config.h"
#include "cuda/kernels/nonfinite.cuh"
#include "cuda/math/adamw_math.h"
#include "cuda/math/rmsprop_math.h"
#include "cuda/math/sgd_math.h"

namespace train_gpu::cuda {
namespace {

// ---------------------------------------------------------------------------------------------
// CUDA kernels

__global__ void adamw_kernel(float* parameters, const float* gradients, float* m, float* v, size_t count,
                             math::OptimizerConfig config, math::PerStep<float> learning_rate_in,
                             math::PerStep<float> step_size_in, DeviceTotals* nonfinite_totals) {
  const float learning_rate = learning_rate_in.get();
  const float step_size = step_size_in.get();
  bool bad = false;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const float gradient = gradients[i];
    bad = bad || !isfinite(gradient);
    float m_i = m[i];
    float v_i = v[i];
    parameters[i] = math::adamw_update(parameters[i], gradient, m_i, v_i, config.beta1, config.beta2, step_size,
                                       config.epsilon, learning_rate, config.weight_decay);
    m[i] = m_i;
    v[i] = v_i;
  }
  if (nonfinite_totals != nullptr) record_nonfinite_block(bad, nonfinite_totals);
}

__global__ void sgd_kernel(float* parameters, const float* gradients, float* velocity, size_t count,
                           math::OptimizerConfig config, math::PerStep<float> learning_rate_in,
                           DeviceTotals* nonfinite_totals) {
  const float learning_rate = learning_rate_in.get();
  bool bad = false;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const float gradient = gradients[i];
    bad = bad || !isfinite(gradient);
    float velocity_i = velocity[i];
    parameters[i] = math::sgd_update(parameters[i], gradient, velocity_i, learning_rate, config.momentum, config.nesterov);
    velocity[i] = velocity_i;
  }
  if (nonfinite_totals != nullptr) record_nonfinite_block(bad, nonfinite_totals);
}

__global__ void rmsprop_kernel(float* parameters, const float* gradients, float* momentum, float* velocity,
                               size_t count, math::OptimizerConfig config, math::PerStep<float> learning_rate_in,
                               DeviceTotals* nonfinite_totals) {
  const float learning_rate = learning_rate_in.get();
  bool bad = false;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const float gradient = gradients[i];
    bad = bad || !isfinite(gradient);
    float momentum_i = momentum[i];
    float velocity_i = velocity[i];
    parameters[i] = math::rmsprop_update(parameters[i], gradient, velocity_i, momentum_i, learning_rate, config.rho,
                                         config.momentum, config.epsilon);
    momentum[i] = momentum_i;
    velocity[i] = velocity_i;
  }
  if (nonfinite_totals != nullptr) record_nonfinite_block(bad, nonfinite_totals);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Kernel launchers

void launch_optimizer(const math::OptimizerConfig& config, float* parameters, const float* gradients, float* slot0,
                      float* slot1, std::size_t count, math::PerStep<float> learning_rate,
                      math::PerStep<float> step_size, cudaStream_t stream, DeviceTotals* nonfinite_totals) {
  if (count == 0) return;
  switch (config.kind) {
    case math::OptimizerKind::kAdamW:
      adamw_kernel<<<blocks_for(count), kThreadsPerBlock, 0, stream>>>(parameters, gradients, slot0, slot1, count, config,
                                                                       learning_rate, step_size, nonfinite_totals);
      break;
    case math::OptimizerKind::kSgd:
      sgd_kernel<<<blocks_for(count), kThreadsPerBlock, 0, stream>>>(parameters, gradients, slot0, count, config,
                                                                     learning_rate, nonfinite_totals);
      break;
    case math::OptimizerKind::kRmsprop:
      rmsprop_kernel<<<blocks_for(count), kThreadsPerBlock, 0, stream>>>(parameters, gradients, slot0, slot1, count,
                                                                         config, learning_rate, nonfinite_totals);
      break;
    case math::OptimizerKind::kAdam:
      throw Error("internal error: launch_optimizer was given Adam, which launch_adam runs");
  }
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace train_gpu::cuda
