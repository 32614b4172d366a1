// AdamW, SGD and RMSprop, each one grid-stride launch over the parameter arena, as adam.cu is
// for Adam: parameters, gradients and the two state slots are arenas of one layout, so every
// tensor is updated at once whatever the model (llm.c's adamw.cuh). The per-element math is the
// shared __host__ __device__ code the CPU backend runs (cuda/math/adamw_math.h, sgd_math.h,
// rmsprop_math.h), rounded operation by operation, so the two agree bit for bit; the per-step
// learning rate and step size come by value (eager) or from the device counters (graph replay,
// cuda/math/step_counters.h). The non-finite gradient check of --kernels fused rides along, and
// so does --clip-norm's factor (gradient_clip.cu), as in adam.cu.
#include "cuda/kernels/optimizers.h"

#include <math.h>

#include "cuda/check.h"
#include "cuda/kernels/launch_config.h"
#include "cuda/kernels/nonfinite.cuh"
#include "cuda/math/adamw_math.h"
#include "cuda/math/rmsprop_math.h"
#include "cuda/math/rounded_float.h"
#include "cuda/math/sgd_math.h"

namespace train_gpu::cuda {
namespace {

// ---------------------------------------------------------------------------------------------
// CUDA kernels

// What each optimizer does to one element, with the step's values read once per thread (from
// device memory in a graph replay) before the loop.
struct AdamwElement {
  math::OptimizerConfig config;
  float learning_rate, step_size;
  __device__ float operator()(float weight, float gradient, float& m, float& v) const {
    return math::adamw_update(weight, gradient, m, v, config.beta1, config.beta2, step_size, config.epsilon,
                              learning_rate, config.weight_decay);
  }
};

struct SgdElement {
  math::OptimizerConfig config;
  float learning_rate, step_size;
  __device__ float operator()(float weight, float gradient, float& velocity, float&) const {
    return math::sgd_update(weight, gradient, velocity, learning_rate, config.momentum, config.nesterov);
  }
};

struct RmspropElement {
  math::OptimizerConfig config;
  float learning_rate, step_size;
  __device__ float operator()(float weight, float gradient, float& momentum, float& velocity) const {
    return math::rmsprop_update(weight, gradient, velocity, momentum, learning_rate, config.rho, config.momentum,
                                config.epsilon);
  }
};

// One grid-stride pass over the arena; slot1 may be null for an optimizer with one slot.
template <typename Element, bool kClipped>
__global__ void optimizer_kernel(float* parameters, const float* gradients, float* slot0, float* slot1, size_t count,
                                 math::OptimizerConfig config, math::PerStep<float> learning_rate,
                                 math::PerStep<float> step_size, DeviceTotals* nonfinite_totals,
                                 const float* gradient_scale) {
  const Element element{config, learning_rate.get(), step_size.get()};
  const float scale = kClipped ? *gradient_scale : 1.0f;
  bool bad = false;
  float unused = 0.0f;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const float gradient = gradients[i];
    bad = bad || !isfinite(gradient);
    float first = slot0[i];
    float second = slot1 != nullptr ? slot1[i] : 0.0f;
    parameters[i] = element(parameters[i], kClipped ? math::mul_rn(gradient, scale) : gradient, first,
                            slot1 != nullptr ? second : unused);
    slot0[i] = first;
    if (slot1 != nullptr) slot1[i] = second;
  }
  if (nonfinite_totals != nullptr) record_nonfinite_block(bad, nonfinite_totals);  // uniform per launch
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Kernel launchers

namespace {

// The kernel of `Element`, unclipped when gradient_scale is null.
template <typename Element>
void launch_element(const math::OptimizerConfig& config, float* parameters, const float* gradients, float* slot0,
                    float* slot1, std::size_t count, math::PerStep<float> learning_rate, math::PerStep<float> step_size,
                    cudaStream_t stream, DeviceTotals* nonfinite_totals, const float* gradient_scale) {
  const unsigned blocks = blocks_for(count);
  if (gradient_scale != nullptr) {
    optimizer_kernel<Element, true><<<blocks, kThreadsPerBlock, 0, stream>>>(
        parameters, gradients, slot0, slot1, count, config, learning_rate, step_size, nonfinite_totals, gradient_scale);
  } else {
    optimizer_kernel<Element, false><<<blocks, kThreadsPerBlock, 0, stream>>>(
        parameters, gradients, slot0, slot1, count, config, learning_rate, step_size, nonfinite_totals, nullptr);
  }
}

}  // namespace

void launch_optimizer(const math::OptimizerConfig& config, float* parameters, const float* gradients, float* slot0,
                      float* slot1, std::size_t count, math::PerStep<float> learning_rate,
                      math::PerStep<float> step_size, cudaStream_t stream, DeviceTotals* nonfinite_totals,
                      const float* gradient_scale) {
  if (count == 0) return;
  switch (config.kind) {
    case math::OptimizerKind::kAdamW:
      launch_element<AdamwElement>(config, parameters, gradients, slot0, slot1, count, learning_rate, step_size, stream,
                                   nonfinite_totals, gradient_scale);
      break;
    case math::OptimizerKind::kSgd:
      launch_element<SgdElement>(config, parameters, gradients, slot0, nullptr, count, learning_rate, step_size, stream,
                                 nonfinite_totals, gradient_scale);
      break;
    case math::OptimizerKind::kRmsprop:
      launch_element<RmspropElement>(config, parameters, gradients, slot0, slot1, count, learning_rate, step_size,
                                     stream, nonfinite_totals, gradient_scale);
      break;
    case math::OptimizerKind::kAdam:
      throw Error("internal error: launch_optimizer was given Adam, which launch_adam runs");
  }
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace train_gpu::cuda
