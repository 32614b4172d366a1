// The MNIST-format sets (mnist, fashion-mnist, idx): the four IDX files of a directory
// (idx_reader.h), each split's images and labels checked against each other, the two splits
// against each other's image size, and known public files named by their sha256.
#pragma once

#include <filesystem>

#include "host/data/dataset.h"

namespace train_gpu {

// MNIST and Fashion-MNIST have 10 classes (a label of 10 or more is an error naming the file);
// an idx set has max(10, max label + 1) over the splits read, up to 256, named "0".."N-1".
Dataset load_idx_dataset(const std::filesystem::path& directory, DatasetKind kind, DatasetSplits splits);

}  // namespace train_gpu
