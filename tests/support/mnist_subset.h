// The real MNIST files, cut to the first N images of each split: enough for trainer tests that
// must run in seconds on two cores. Tests skip when the data directory is absent.
#pragma once

#include <filesystem>

#include "host/data/dataset.h"

namespace train_gpu::testing {

inline bool mnist_available() {
  return std::filesystem::exists(std::filesystem::path(TRAIN_GPU_MNIST_DIR) / "train-labels-idx1-ubyte.gz");
}

inline void cut(ImageSet& set, int64_t count) {
  if (count >= set.count) return;
  set.count = count;
  set.pixels.resize(static_cast<size_t>(count * set.image_size()));
  set.labels.resize(static_cast<size_t>(count));
}

inline const Dataset& full_mnist() {
  static const Dataset dataset = load_dataset(TRAIN_GPU_MNIST_DIR, DatasetKind::kMnist);
  return dataset;
}

inline Dataset mnist_subset(int64_t train_count, int64_t test_count) {
  Dataset dataset = full_mnist();
  cut(dataset.train, train_count);
  cut(dataset.test, test_count);
  return dataset;
}

}  // namespace train_gpu::testing
