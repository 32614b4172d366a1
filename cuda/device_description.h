// The GPU a backend runs on, one line: "cuda:0 NVIDIA H100 80GB HBM3, compute capability 9.0,
// 132 SMs, 79.1 GiB". Shared by the tutorial's backend and the spec-driven one.
#pragma once

#include <string>

namespace train_gpu::cuda {

std::string describe_device(int device);

}  // namespace train_gpu::cuda
