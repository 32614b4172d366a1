// Placeholder: the dataset loader is being written.
#include "host/data/dataset.h"

#include "host/common/error.h"

namespace train_gpu {

DatasetKind parse_dataset_kind(const std::string& name) {
  if (name == "mnist") return DatasetKind::kMnist;
  if (name == "fashion-mnist") return DatasetKind::kFashionMnist;
  throw Error("unknown dataset '" + name + "': expected mnist or fashion-mnist");
}
std::filesystem::path default_data_dir(DatasetKind kind) {
  return kind == DatasetKind::kMnist ? "data/mnist" : "data/fashion-mnist";
}
Dataset load_dataset(const std::filesystem::path&, DatasetKind) { throw Error("dataset loading is not implemented yet"); }

}  // namespace train_gpu
