// Non-finite gradient check, on the device: the orchestrator learns about a NaN at the next
// take_totals() without the step ever copying a flag to the host. One pass over the gradient
// arena (2.8 MB), a block-wide OR, and at most one compare-and-swap per block, so only the first
// bad batch of a pass is recorded.
#include "cuda/kernels/nonfinite.h"

#include <math.h>

#include "cuda/check.h"
#include "cuda/kernels/launch_config.h"
#include "cuda/kernels/nonfinite.cuh"

namespace train_gpu::cuda {
namespace {

// ---------------------------------------------------------------------------------------------
// CUDA kernels

__global__ void flag_nonfinite_kernel(const float* values, size_t size, DeviceTotals* totals) {
  bool bad = false;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  for (size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < size; i += stride) {
    bad = bad || !isfinite(values[i]);
  }
  record_nonfinite_block(bad, totals);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Kernel launchers

void launch_flag_nonfinite(const float* values, std::size_t size, DeviceTotals* totals, cudaStream_t stream) {
  if (size == 0) return;
  // A few blocks per SM are plenty for 700k floats; fewer blocks also mean fewer atomics.
  const unsigned int blocks = std::min(blocks_for(size), 1024u);
  flag_nonfinite_kernel<<<blocks, kThreadsPerBlock, 0, stream>>>(values, size, totals);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace train_gpu::cuda
