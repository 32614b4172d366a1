// The defaults of BatchLoader's device-cursor calls, for loaders that gather on the host.
#include "cuda/loader/batch_loader.h"

#include <string>

#include "host/common/error.h"

namespace train_gpu::cuda {

void BatchLoader::check_batch(Split, int64_t, int) const {
  throw Error(std::string("the ") + name() + " loader cannot gather at a device cursor");
}

void BatchLoader::load_batch_at_cursor(Split, const int64_t*, int, float*, uint8_t*, cudaStream_t) {
  throw Error(std::string("the ") + name() + " loader cannot gather at a device cursor");
}

}  // namespace train_gpu::cuda
