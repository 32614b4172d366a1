// A whole MNIST-format dataset from a directory: the four IDX files (gzipped or raw, either the
// "train-images-idx3-ubyte" or "train-images.idx3-ubyte" name form), validated, with each file's
// sha256 and, when it is a known public file, its name ("MNIST train images, verified").
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "host/data/image_set.h"

namespace train_gpu {

// kIdx: any other set of 28x28 images in 10 classes in the MNIST file layout (KMNIST, a set of
// one's own), read from --data-dir (it has no default) with classes named "0".."9".
enum class DatasetKind { kMnist, kFashionMnist, kIdx };

// "mnist" | "fashion-mnist" | "idx"; anything else is an Error listing the choices.
DatasetKind parse_dataset_kind(const std::string& name);
std::string dataset_kind_name(DatasetKind kind);          // "mnist", "fashion-mnist", "idx"
std::string dataset_display_name(DatasetKind kind);       // "MNIST", "Fashion-MNIST", "IDX"
// ./data/mnist, ./data/fashion-mnist; for idx an Error asking for --data-dir.
std::filesystem::path default_data_dir(DatasetKind kind);
// The ten class names: "0".."9" for MNIST and idx, "T-shirt/top".."Ankle boot" for Fashion-MNIST.
const std::vector<std::string>& class_names(DatasetKind kind);

struct DatasetFile {
  std::string role;                // "train images", "train labels", "test images", "test labels"
  std::filesystem::path path;      // the file actually read
  std::string sha256;              // of the file as stored (compressed when .gz)
  std::string recognized;          // e.g. "MNIST train images, verified"; empty when unknown
};

struct Dataset {
  DatasetKind kind = DatasetKind::kMnist;
  std::string name;                // idx only: the set's own name (--dataset-name), for checkpoints and config.json
  ImageSet train;
  ImageSet test;
  std::vector<DatasetFile> files;  // train images, train labels, test images, test labels
};

// Which splits a command needs: evaluating the test split has no use for the 60,000 training
// images, whose decoding and sha256 take most of the load.
enum class DatasetSplits { kBoth, kTestOnly };

// Loads and validates the split files (all four, or only the two test files, leaving `train`
// empty); any problem is an Error naming the file and what is wrong.
Dataset load_dataset(const std::filesystem::path& directory, DatasetKind kind,
                     DatasetSplits splits = DatasetSplits::kBoth);

}  // namespace train_gpu
