#include "host/model/cpu_backend.h"

#include "host/common/error.h"

namespace train_gpu {

std::unique_ptr<Backend> make_cpu_backend(const BackendOptions&) {
  throw Error("the CPU backend is not implemented yet");
}

}  // namespace train_gpu
