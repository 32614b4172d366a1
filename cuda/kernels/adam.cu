// Adam, one launch over all 693,962 parameters: parameters, gradients, m and v are four arenas
// of the same layout (model_spec.h), so one grid-stride loop updates every tensor at once
// (llm.c's adamw.cuh). The bias-corrected step size depends only on t, so it is computed once
// per step in double precision (math::adam_step_size), not per element: by the host and passed
// by value for eager launches, or by the step itself into device memory for a replayed graph
// (cuda/math/step_counters.h); both evaluate the same function and get the same bits.
// With --kernels fused the non-finite gradient check rides along (nonfinite.cuh): Adam reads
// every gradient anyway, so the separate 2.8 MB pass and its launch go away. So does
// --clip-norm's factor (gradient_clip.cu): read from device memory once per thread and applied
// to each gradient as it is loaded, instead of a pass that would rewrite the gradient arena; the
// unclipped kernel is a separate instantiation that never reads it.
#include "cuda/kernels/adam.h"

#include <math.h>

#include "cuda/check.h"
#include "cuda/kernels/launch_config.h"
#include "cuda/kernels/nonfinite.cuh"
#include "cuda/math/adam_math.h"
#include "cuda/math/rounded_float.h"
#include "cuda/math/step_counters.h"

namespace train_gpu::cuda {
namespace {

// ---------------------------------------------------------------------------------------------
// CUDA kernels

template <bool kClipped>
__global__ void adam_kernel(float* parameters, const float* gradients, float* m, float* v, size_t count, float beta1,
                            float beta2, math::PerStep<float> step, float epsilon, DeviceTotals* nonfinite_totals,
                            const float* gradient_scale) {
  const float step_size = step.get();
  const float scale = kClipped ? *gradient_scale : 1.0f;
  bool bad = false;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    const float gradient = gradients[i];
    bad = bad || !isfinite(gradient);
    float m_i = m[i];
    float v_i = v[i];
    parameters[i] = math::adam_update(parameters[i], kClipped ? math::mul_rn(gradient, scale) : gradient, m_i, v_i,
                                      beta1, beta2, step_size, epsilon);
    m[i] = m_i;
    v[i] = v_i;
  }
  if (nonfinite_totals != nullptr) record_nonfinite_block(bad, nonfinite_totals);  // uniform per launch
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Kernel launchers

namespace {

void launch(float* parameters, const float* gradients, float* m, float* v, std::size_t count, float beta1,
            float beta2, math::PerStep<float> step_size, float epsilon, cudaStream_t stream,
            DeviceTotals* nonfinite_totals, const float* gradient_scale) {
  if (count == 0) return;
  if (gradient_scale != nullptr) {
    adam_kernel<true><<<blocks_for(count), kThreadsPerBlock, 0, stream>>>(
        parameters, gradients, m, v, count, beta1, beta2, step_size, epsilon, nonfinite_totals, gradient_scale);
  } else {
    adam_kernel<false><<<blocks_for(count), kThreadsPerBlock, 0, stream>>>(
        parameters, gradients, m, v, count, beta1, beta2, step_size, epsilon, nonfinite_totals, nullptr);
  }
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace

void launch_adam(float* parameters, const float* gradients, float* m, float* v, std::size_t count, float beta1,
                 float beta2, float step_size, float epsilon, cudaStream_t stream, DeviceTotals* nonfinite_totals,
                 const float* gradient_scale) {
  launch(parameters, gradients, m, v, count, beta1, beta2, math::per_step_value(step_size), epsilon, stream,
         nonfinite_totals, gradient_scale);
}

void launch_adam_at_counters(float* parameters, const float* gradients, float* m, float* v, std::size_t count,
                             float beta1, float beta2, const float* step_size_on_device, float epsilon,
                             cudaStream_t stream, DeviceTotals* nonfinite_totals, const float* gradient_scale) {
  launch(parameters, gradients, m, v, count, beta1, beta2, math::per_step_on_device(step_size_on_device), epsilon,
         stream, nonfinite_totals, gradient_scale);
}

}  // namespace train_gpu::cuda
