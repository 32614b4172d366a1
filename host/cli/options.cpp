#include "host/cli/options.h"

#include <ostream>

#include "host/cli/validators.h"

namespace train_gpu::cli {

void add_data_options(CLI::App& command, DataOptions& options) {
  command.add_option("--dataset", options.dataset, "Dataset: mnist or fashion-mnist")
      ->check(CLI::IsMember({"mnist", "fashion-mnist"}))
      ->capture_default_str();
  command.add_option("--data-dir", options.data_dir,
                     "Directory with the four IDX files (.gz or raw) [default: ./data/mnist or ./data/fashion-mnist]");
  command.add_option("--limit-train", options.limit_train, "Use only the first N training images (0: all)")
      ->check(whole_number_at_least(0));
  command.add_option("--limit-test", options.limit_test, "Use only the first N test images (0: all)")
      ->check(whole_number_at_least(0));
}

void add_device_options(CLI::App& command, DeviceOptions& options) {
  command.add_option("--device", options.device, "cpu, or a GPU index such as 0 [default: GPU 0 when one answers, else cpu]");
  command.add_flag("--deterministic", options.deterministic, "Bit-identical reruns: deterministic GPU algorithms only, and metrics.csv without its timing columns");
  command.add_flag("--tf32", options.tf32, "GPU: allow TF32 tensor-core math (default fp32, for parity with the CPU)");
  command.add_option("--loader", options.loader, "GPU: how batches reach the device: auto, device (dataset resident) or pinned (streamed)")
      ->check(CLI::IsMember({"auto", "device", "pinned"}))
      ->capture_default_str();
}

namespace {

void truncate(ImageSet& set, int64_t limit) {
  if (limit <= 0 || limit >= set.count) return;
  set.count = limit;
  set.pixels.resize(static_cast<size_t>(limit * set.image_size()));
  set.labels.resize(static_cast<size_t>(limit));
}

}  // namespace

Dataset load_dataset_from_options(const DataOptions& options, std::ostream& out) {
  const DatasetKind kind = parse_dataset_kind(options.dataset);
  const std::filesystem::path directory = options.data_dir.empty() ? default_data_dir(kind) : std::filesystem::path(options.data_dir);
  Dataset dataset = load_dataset(directory, kind);
  for (const DatasetFile& file : dataset.files) {
    out << "  " << file.path.string() << ": " << (file.recognized.empty() ? "unrecognized " + file.role : file.recognized)
        << "\n";
  }
  truncate(dataset.train, options.limit_train);
  truncate(dataset.test, options.limit_test);
  return dataset;
}

BackendOptions backend_options_from(const DeviceOptions& options, int max_batch) {
  BackendOptions backend;
  backend.max_batch = max_batch;
  backend.deterministic = options.deterministic;
  backend.tf32 = options.tf32;
  backend.loader = options.loader;
  return backend;
}

}  // namespace train_gpu::cli
