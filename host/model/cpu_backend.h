// The CPU backend: float32; the convolution, ReLU and pooling fused per image
// (cpu_conv_pool.h), the dense layers through oneDNN's sgemm (cpu_gemm.h), softmax-CE and Adam
// with their per-element math from cuda/math/; threads and denormal flushing from cpu_threads.h.
// It is the fallback where no GPU answers and the oracle the CUDA backend is tested against.
//
// Reproducibility: every per-image and per-parameter loop computes the same bits whatever thread
// runs it, reductions over images run in image order, and oneDNN's sgemm at these shapes does not
// split its sums by thread: reruns and other --threads values are bit-identical (tested), other
// instruction sets are not (README, "CPU backend").
#pragma once

#include <memory>

#include "host/model/backend.h"

namespace train_gpu {

std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& options);

}  // namespace train_gpu
