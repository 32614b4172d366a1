// --dataset cifar10: CIFAR-10's binary version (cifar10_records.h), from a directory holding
// data_batch_1.bin..data_batch_5.bin (train) and test_batch.bin (test) -- or a
// cifar-10-batches-bin/ folder holding them, as the archive unpacks -- or from
// cifar-10-binary.tar.gz itself (in the directory, or named as the directory), read in place
// through libarchive (tar_archive.h). batches.meta.txt names the classes when present, else the
// standard ten (airplane..truck).
#pragma once

#include <filesystem>

#include "host/data/dataset.h"

namespace train_gpu {

Dataset load_cifar10_dataset(const std::filesystem::path& location, DatasetSplits splits);

}  // namespace train_gpu
