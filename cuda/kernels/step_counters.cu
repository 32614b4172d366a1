// One thread writing one counter. A kernel rather than cudaMemcpyAsync because the value
// travels as a launch argument: no host buffer has to outlive the call, and nothing synchronizes.
#include "cuda/kernels/step_counters.h"

#include "cuda/check.h"

namespace train_gpu::cuda {
namespace {

// ---------------------------------------------------------------------------------------------
// CUDA kernels

__global__ void set_counter_kernel(int64_t* target, int64_t value) { *target = value; }

__global__ void set_scale_kernel(float* target, float value) { *target = value; }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Kernel launchers

void launch_set_counter(int64_t* target, int64_t value, cudaStream_t stream) {
  set_counter_kernel<<<1, 1, 0, stream>>>(target, value);
  CUDA_CHECK(cudaGetLastError());
}

void launch_set_scale(float* target, float value, cudaStream_t stream) {
  set_scale_kernel<<<1, 1, 0, stream>>>(target, value);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace train_gpu::cuda
