// A whole dataset from a directory, validated, in one of the layouts train_gpu reads:
// - MNIST-format IDX files (mnist, fashion-mnist, idx): the four IDX files, gzipped or raw, in
//   either the "train-images-idx3-ubyte" or "train-images.idx3-ubyte" name form (idx_dataset.h);
// - CIFAR-10's binary batches (cifar10), or its .tar.gz as published (cifar10_dataset.h);
// - a folder of PNG/JPEG images, one subfolder per class (folder; image_folder_dataset.h).
// Each file read is recorded with its sha256 and, when it is a known public file, its name
// ("MNIST train images, verified").
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "host/data/image_set.h"

namespace train_gpu {

// kIdx: any other set in the MNIST file layout (KMNIST, EMNIST, a set of one's own), read from
// --data-dir (it has no default), with max(10, max label + 1) classes named "0".."N-1".
// kCifar10: CIFAR-10's binary version, 3x32x32 in 10 classes, from ./data/cifar10 by default.
// kFolder: DIR/train/<class>/*.png|jpg and DIR/test/<class>/*, read from --data-dir.
enum class DatasetKind { kMnist, kFashionMnist, kIdx, kCifar10, kFolder };

// "mnist" | "fashion-mnist" | "idx" | "cifar10" | "folder"; anything else is an Error listing the choices.
DatasetKind parse_dataset_kind(const std::string& name);
std::string dataset_kind_name(DatasetKind kind);     // "mnist", "fashion-mnist", "idx", "cifar10", "folder"
std::string dataset_display_name(DatasetKind kind);  // "MNIST", "Fashion-MNIST", "IDX", "CIFAR-10", "image folder"
// True for the kinds that are a family of sets rather than one (idx, cifar10, folder): such a set
// goes by its own name (--dataset-name, default its directory's name) in checkpoints and config.json.
bool dataset_has_own_name(DatasetKind kind);
// ./data/mnist, ./data/fashion-mnist, ./data/cifar10; for idx and folder an Error asking for --data-dir.
std::filesystem::path default_data_dir(DatasetKind kind);
// The class names a kind gives its sets when the data does not name them: "0".."9" for MNIST,
// idx and folder (whose names come with the loaded data), "T-shirt/top".."Ankle boot" for
// Fashion-MNIST, "airplane".."truck" for CIFAR-10. For commands that have a model but no data
// (predict); everything else reads Dataset::class_names.
const std::vector<std::string>& standard_class_names(DatasetKind kind);

struct DatasetFile {
  std::string role;                // "train images", "train labels", "test images", "test labels", "train batch 1", ...
  std::filesystem::path path;      // the file actually read ("ARCHIVE:member" for a file inside an archive)
  std::string sha256;              // of the file as stored (compressed when .gz)
  std::string recognized;          // e.g. "MNIST train images, verified"; empty when unknown
};

struct Dataset {
  DatasetKind kind = DatasetKind::kMnist;
  std::string name;                      // idx, cifar10, folder: the set's own name, for checkpoints and config.json
  ImageSet train;
  ImageSet test;
  std::vector<std::string> class_names;  // one per class: train.classes of them
  std::vector<DatasetFile> files;        // what was read, in reading order; a folder set lists its class folders
};

// Which splits a command needs: evaluating the test split has no use for the 60,000 training
// images, whose decoding and sha256 take most of the load.
enum class DatasetSplits { kBoth, kTestOnly };

// Loads and validates the split files (all, or only the test split's, leaving `train` empty but
// of the test split's shape); any problem is an Error naming the file and what is wrong.
// `directory` may be CIFAR-10's .tar.gz itself for kCifar10.
Dataset load_dataset(const std::filesystem::path& directory, DatasetKind kind,
                     DatasetSplits splits = DatasetSplits::kBoth);

// The set as messages name it: "mnist", "cifar10", "idx set 'glyphs'" (its own name, when it
// differs from the kind's).
std::string dataset_description(const Dataset& dataset);

// "0", "1", ..., "N-1".
std::vector<std::string> numbered_class_names(int classes);

}  // namespace train_gpu
