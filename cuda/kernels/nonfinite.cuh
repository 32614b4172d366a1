// The block-level half of the non-finite gradient check, shared by the stand-alone check
// (nonfinite.cu) and Adam, which folds the check into its pass over the gradients (adam.cu):
// a block-wide OR, then at most one compare-and-swap per block, so only the first bad batch of a
// pass is recorded. Device code only: included by .cu files; every thread of the block must call.
#pragma once

#include <cuda_runtime.h>

#include "cuda/kernels/device_totals.h"

namespace train_gpu::cuda {

// When any thread of the block saw a non-finite value (`bad`) and totals->first_nonfinite_batch
// is still -1, sets it to totals->batches - 1: the batch softmax_xent just counted.
__device__ inline void record_nonfinite_block(bool bad, DeviceTotals* totals) {
  if (__syncthreads_or(bad) && threadIdx.x == 0) {
    const long long batch = static_cast<long long>(totals->batches) - 1;
    atomicCAS(reinterpret_cast<unsigned long long*>(&totals->first_nonfinite_batch),
              static_cast<unsigned long long>(-1LL), static_cast<unsigned long long>(batch));
  }
}

}  // namespace train_gpu::cuda
