// Placeholder until the CUDA backend lands: device probing and version strings are real; the
// backend itself is not built yet.
#include "cuda/cuda_backend.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <sstream>

#include "host/common/error.h"

namespace train_gpu::cuda {

DeviceProbe probe_devices() noexcept {
  DeviceProbe probe;
  const cudaError_t status = cudaGetDeviceCount(&probe.device_count);
  if (status != cudaSuccess) {
    probe.device_count = 0;
    probe.error = cudaGetErrorString(status);
    (void)cudaGetLastError();  // clear the sticky-free error so later probes start clean
  } else if (probe.device_count == 0) {
    probe.error = "no CUDA device found";
  }
  return probe;
}

std::unique_ptr<Backend> make_cuda_backend(int device, const BackendOptions&) {
  throw Error("--device " + std::to_string(device) + ": the CUDA backend is not implemented in this build yet; use --device cpu");
}

std::string built_library_versions() {
  std::ostringstream out;
  out << "CUDA " << CUDART_VERSION / 1000 << "." << (CUDART_VERSION % 1000) / 10 << ", cuDNN " << CUDNN_MAJOR << "."
      << CUDNN_MINOR << "." << CUDNN_PATCHLEVEL << ", cuBLAS " << CUBLAS_VER_MAJOR << "." << CUBLAS_VER_MINOR << "."
      << CUBLAS_VER_PATCH;
  return out.str();
}

}  // namespace train_gpu::cuda
