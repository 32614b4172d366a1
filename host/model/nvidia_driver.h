// Why no GPU answers, in words that send the user the right way. The CUDA runtime reports a
// machine with no NVIDIA driver at all as "CUDA driver version is insufficient for CUDA runtime
// version", which sends people to upgrade a driver they do not have; that wording is kept only
// where a driver is installed but too old.
#pragma once

#include <string>

namespace train_gpu {

// True when the NVIDIA driver's user-space library (libcuda.so.1) can be loaded: the library the
// CUDA runtime needs, present wherever a driver is installed (or mounted into a container).
bool nvidia_driver_found();

// What a note or error says when no GPU answers: `cuda_error` (the runtime's words) where a
// driver is found, else "no NVIDIA driver found (...)".
std::string no_gpu_reason(const std::string& cuda_error, bool driver_found);

}  // namespace train_gpu
