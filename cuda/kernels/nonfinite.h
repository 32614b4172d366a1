// Detects NaN/Inf in a gradient arena without a host sync (see nonfinite.cu).
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "cuda/kernels/device_totals.h"

namespace train_gpu::cuda {

// When any of values[0, size) is NaN or infinite and totals->first_nonfinite_batch is still -1,
// sets it to totals->batches - 1: the index of the batch launch_softmax_xent just counted.
void launch_flag_nonfinite(const float* values, std::size_t size, DeviceTotals* totals, cudaStream_t stream);

}  // namespace train_gpu::cuda
