// One split of an MNIST-format dataset, as loaded: raw uint8 pixels and labels. Scaling to
// [0,1] floats happens in the backends (on the device for CUDA), so this stays 47 MB, not 188.
#pragma once

#include <cstdint>
#include <vector>

namespace train_gpu {

struct ImageSet {
  int64_t count = 0;
  int rows = 0;
  int cols = 0;
  std::vector<uint8_t> pixels;  // (count, rows, cols), row-major
  std::vector<uint8_t> labels;  // (count), each 0..9

  int64_t image_size() const { return int64_t{rows} * cols; }
  const uint8_t* image(int64_t index) const { return pixels.data() + index * image_size(); }
};

}  // namespace train_gpu
