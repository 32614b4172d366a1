// The CPU backend: float32, any NetworkSpec (BackendOptions::spec) through the layers of
// host/model/cpu/ (cpu_network.h; for the tutorial, the convolution, ReLU and pooling fused per
// image by cpu_conv_pool.h and the dense layers through oneDNN's sgemm, cpu_gemm.h), softmax-CE
// and Adam with their per-element math from cuda/math/; threads and denormal flushing from
// cpu_threads.h. It is the fallback where no GPU answers and the oracle the CUDA backend is
// tested against.
//
// Reproducibility, for the tutorial: every per-image and per-parameter loop computes the same
// bits whatever thread runs it, reductions over images run in image order, and oneDNN's sgemm at
// these shapes does not split its sums by thread: reruns and other --threads values are
// bit-identical (tested), other instruction sets are not (README, "CPU backend"). Other specs
// rerun bit-identically with the same thread count (a resume included, tested); oneDNN's
// convolution and batch normalization may split their sums by thread.
#pragma once

#include <memory>

#include "host/model/backend.h"

namespace train_gpu {

std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& options);

}  // namespace train_gpu
