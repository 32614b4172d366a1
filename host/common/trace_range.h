// NVTX ranges for the host orchestrator (epoch, test pass, checkpoint), in the same "train_gpu"
// domain as the CUDA backend's, so an Nsight Systems timeline shows the loop's structure. In a
// CPU-only build there is no NVTX header and the range is a no-op.
#pragma once

#ifdef TRAIN_GPU_HAVE_CUDA
#include "cuda/nvtx.h"

namespace train_gpu {
using TraceRange = cuda::ScopedRange;
}  // namespace train_gpu

#else

namespace train_gpu {
class TraceRange {
 public:
  explicit TraceRange(const char*) {}
};
}  // namespace train_gpu

#endif
