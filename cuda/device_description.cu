#include "cuda/device_description.h"

#include <cuda_runtime.h>

#include <iomanip>
#include <sstream>

#include "cuda/check.h"

namespace train_gpu::cuda {

std::string describe_device(int device) {
  cudaDeviceProp properties{};
  CUDA_CHECK(cudaGetDeviceProperties(&properties, device));
  std::ostringstream out;
  out << "cuda:" << device << " " << properties.name << ", compute capability " << properties.major << "."
      << properties.minor << ", " << properties.multiProcessorCount << " SMs, " << std::fixed << std::setprecision(1)
      << double(properties.totalGlobalMem) / double(1ULL << 30) << " GiB";
  return out.str();
}

}  // namespace train_gpu::cuda
