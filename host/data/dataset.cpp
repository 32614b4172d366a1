#include "host/data/dataset.h"

#include "host/common/error.h"
#include "host/data/cifar10_dataset.h"
#include "host/data/idx_dataset.h"
#include "host/data/image_folder_dataset.h"

namespace train_gpu {

namespace fs = std::filesystem;

namespace {

// What holds the set, for the messages: each kind's remedy names its own layout.
std::string remedy(const fs::path& directory, DatasetKind kind) {
  switch (kind) {
    case DatasetKind::kMnist:
    case DatasetKind::kFashionMnist:
      return "fetch it with tools/fetch-data.sh --dataset " + dataset_kind_name(kind) + " " + directory.string() +
             ", or point --data-dir at the directory holding the four IDX files";
    case DatasetKind::kIdx: return "point --data-dir at the directory holding the four IDX files";
    case DatasetKind::kCifar10:
      return "point --data-dir at the directory holding CIFAR-10's binary batches (data_batch_1.bin..data_batch_5.bin, "
             "test_batch.bin) or cifar-10-binary.tar.gz, or at that .tar.gz itself";
    case DatasetKind::kFolder: break;
  }
  return "point --data-dir at a directory holding train/<class>/ and test/<class>/ folders of PNG or JPEG images";
}

void check_directory(const fs::path& directory, DatasetKind kind) {
  std::error_code error;
  const fs::file_status status = fs::status(directory, error);
  if (!fs::exists(status)) throw Error(directory.string() + ": no such directory; " + remedy(directory, kind));
  // CIFAR-10's archive may be named instead of the directory that holds it.
  if (kind == DatasetKind::kCifar10 && fs::is_regular_file(status)) return;
  if (!fs::is_directory(status)) throw Error(directory.string() + ": not a directory; " + remedy(directory, kind));
}

}  // namespace

DatasetKind parse_dataset_kind(const std::string& name) {
  if (name == "mnist") return DatasetKind::kMnist;
  if (name == "fashion-mnist") return DatasetKind::kFashionMnist;
  if (name == "idx") return DatasetKind::kIdx;
  if (name == "cifar10") return DatasetKind::kCifar10;
  if (name == "folder") return DatasetKind::kFolder;
  throw Error("unknown dataset '" + name +
              "': expected mnist, fashion-mnist, idx (another set in IDX files), cifar10 (CIFAR-10's binary version) "
              "or folder (train/<class>/ and test/<class>/ folders of images)");
}

std::string dataset_kind_name(DatasetKind kind) {
  switch (kind) {
    case DatasetKind::kMnist: return "mnist";
    case DatasetKind::kFashionMnist: return "fashion-mnist";
    case DatasetKind::kIdx: return "idx";
    case DatasetKind::kCifar10: return "cifar10";
    case DatasetKind::kFolder: break;
  }
  return "folder";
}

std::string dataset_display_name(DatasetKind kind) {
  switch (kind) {
    case DatasetKind::kMnist: return "MNIST";
    case DatasetKind::kFashionMnist: return "Fashion-MNIST";
    case DatasetKind::kIdx: return "IDX";
    case DatasetKind::kCifar10: return "CIFAR-10";
    case DatasetKind::kFolder: break;
  }
  return "image folder";
}

bool dataset_has_own_name(DatasetKind kind) {
  return kind == DatasetKind::kIdx || kind == DatasetKind::kCifar10 || kind == DatasetKind::kFolder;
}

fs::path default_data_dir(DatasetKind kind) {
  if (kind == DatasetKind::kIdx) {
    throw Error("--dataset idx has no default directory: give --data-dir, the directory holding the set's four IDX files");
  }
  if (kind == DatasetKind::kFolder) {
    throw Error("--dataset folder has no default directory: give --data-dir, the directory holding train/ and test/");
  }
  return fs::path("data") / dataset_kind_name(kind);
}

const std::vector<std::string>& standard_class_names(DatasetKind kind) {
  static const std::vector<std::string> digits = numbered_class_names(10);
  static const std::vector<std::string> fashion{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  static const std::vector<std::string> cifar10{"airplane", "automobile", "bird", "cat",  "deer",
                                                "dog",      "frog",       "horse", "ship", "truck"};
  if (kind == DatasetKind::kFashionMnist) return fashion;
  if (kind == DatasetKind::kCifar10) return cifar10;
  return digits;
}

std::string dataset_description(const Dataset& dataset) {
  const std::string kind = dataset_kind_name(dataset.kind);
  if (dataset.name.empty() || dataset.name == kind) return kind;
  return kind + " set '" + dataset.name + "'";
}

std::vector<std::string> numbered_class_names(int classes) {
  std::vector<std::string> names;
  for (int c = 0; c < classes; ++c) names.push_back(std::to_string(c));
  return names;
}

Dataset load_dataset(const fs::path& directory, DatasetKind kind, DatasetSplits splits) {
  check_directory(directory, kind);
  switch (kind) {
    case DatasetKind::kCifar10: return load_cifar10_dataset(directory, splits);
    case DatasetKind::kFolder: return load_image_folder_dataset(directory, splits);
    default: break;
  }
  return load_idx_dataset(directory, kind, splits);
}

}  // namespace train_gpu
