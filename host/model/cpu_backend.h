// The CPU backend: float32, im2col + OpenBLAS sgemm for the convolution and dense layers, plain
// loops for ReLU, pooling, softmax-CE and Adam (their per-element math from cuda/math/). It is
// the fallback where no GPU answers and the oracle the CUDA backend is tested against.
#pragma once

#include <memory>

#include "host/model/backend.h"

namespace train_gpu {

std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& options);

}  // namespace train_gpu
