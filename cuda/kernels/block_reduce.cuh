// Deterministic reductions for kernels: a fixed shared-memory tree within a block, and a
// cross-block finish in which the LAST block to arrive adds the blocks' partials in block order.
// Who arrives last varies from run to run; the order of the additions does not, so the sums are
// bitwise reproducible (unlike float atomics) while the work is spread over many blocks.
// Device code only: included by .cu files.
#pragma once

#include <cuda_runtime.h>

namespace train_gpu::cuda {

// Sum of `value` over the block's kThreads threads (blockDim.x == kThreads, a power of two);
// the result is valid in thread 0. `shared` holds kThreads elements. Ends synchronized.
template <int kThreads, typename T>
__device__ T block_tree_sum(T value, T* shared) {
  shared[threadIdx.x] = value;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half) shared[threadIdx.x] += shared[threadIdx.x + half];
    __syncthreads();
  }
  return shared[0];
}

// Called by thread 0 of each of the `blocks` blocks of one reduction group after it stored its
// partial in partials[its index]: returns true in exactly one block, the last to arrive, after
// which every partial of the group is visible to it. It also re-arms the counter (back to 0) for
// the next launch, which is what lets a captured graph replay this kernel.
__device__ inline bool arrived_last(unsigned int* counter, unsigned int blocks) {
  __threadfence();  // make this block's partial visible before announcing it
  const unsigned int arrived = atomicAdd(counter, 1u) + 1u;
  if (arrived != blocks) return false;
  __threadfence();  // see the others' partials (their fences precede their increments)
  *counter = 0u;
  return true;
}

}  // namespace train_gpu::cuda
