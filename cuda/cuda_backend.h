// The CUDA backend, seen from host code: plain C++ declarations, so host/ stays .cpp only.
// Only compiled when the build has CUDA (TRAIN_GPU_HAVE_CUDA).
#pragma once

#include <memory>
#include <string>

#include "host/model/backend.h"

namespace train_gpu::cuda {

// Whether a CUDA device answers. Never throws: error is empty when device_count > 0, otherwise
// it names the cause ("CUDA driver version is insufficient ...", "no CUDA device").
struct DeviceProbe {
  int device_count = 0;
  std::string error;
};
DeviceProbe probe_devices() noexcept;

// The tutorial's network on device `device` (0-based), through its fused kernels (and graphs).
// Prints nothing; description() names the GPU. Refuses any other spec.
std::unique_ptr<Backend> make_cuda_backend(int device, const BackendOptions& options);

// Any other NetworkSpec on device `device`, layer by layer (cuda/network/), with --graph and with
// several ranks as the tutorial's. It runs the tutorial's spec too, but make_backend gives that
// one to make_cuda_backend: same results, fused and faster.
std::unique_ptr<Backend> make_network_backend(int device, const BackendOptions& options);

// The CUDA runtime, cuDNN and cuBLAS versions this binary was built against, one line.
std::string built_library_versions();

// The versions actually loaded at run time (they can differ from the built ones: a GPU node
// may bring its own cuDNN and cuBLAS wheels) and the CUDA version the driver supports, one line:
// "CUDA runtime 13.0, cuDNN 9.13.0, cuBLAS 13.0.2, driver supports CUDA 13.0". Never throws;
// needs no GPU ("no NVIDIA driver" where there is none).
std::string loaded_library_versions() noexcept;

}  // namespace train_gpu::cuda
