// One split of a dataset, as loaded: raw uint8 pixels and labels. Scaling to [0,1] floats
// happens in the backends (on the device for CUDA), so MNIST stays 47 MB, not 188.
#pragma once

#include <cstdint>
#include <vector>

namespace train_gpu {

struct ImageSet {
  int64_t count = 0;
  int channels = 1;  // 1 (gray) or 3 (RGB)
  int rows = 0;
  int cols = 0;
  int classes = 10;  // labels are 0..classes-1
  // (count, channels, rows, cols), NCHW: each image's planes one after another (CIFAR-10's own
  // byte order: its R plane, then G, then B), each plane row-major.
  std::vector<uint8_t> pixels;
  std::vector<uint8_t> labels;  // (count), each 0..classes-1

  int64_t image_size() const { return int64_t{channels} * rows * cols; }
  const uint8_t* image(int64_t index) const { return pixels.data() + index * image_size(); }
};

}  // namespace train_gpu
