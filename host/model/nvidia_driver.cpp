#include "host/model/nvidia_driver.h"

#include <dlfcn.h>

namespace train_gpu {

bool nvidia_driver_found() {
  // The same library, by the same name, that the CUDA runtime opens; loading it once more costs
  // nothing when it is there (the runtime already holds it) and leaves nothing behind when not.
  void* library = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (library == nullptr) return false;
  dlclose(library);
  return true;
}

std::string no_gpu_reason(const std::string& cuda_error, bool driver_found) {
  if (driver_found) return cuda_error;
  return "no NVIDIA driver found (libcuda.so.1 cannot be loaded)";
}

}  // namespace train_gpu
