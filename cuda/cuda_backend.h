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

// A backend on device `device` (0-based). Prints nothing; description() names the GPU.
std::unique_ptr<Backend> make_cuda_backend(int device, const BackendOptions& options);

// The CUDA runtime, cuDNN and cuBLAS versions this binary was built against, one line.
std::string built_library_versions();

}  // namespace train_gpu::cuda
