#include "host/cli/options.h"

#include <limits>
#include <ostream>
#include <tuple>

#include "host/common/error.h"

#include "host/cli/validators.h"

namespace train_gpu::cli {

void add_data_options(CLI::App& command, DataOptions& options, bool checkpoint_dataset) {
  CLI::Option* dataset = command.add_option(
      "--dataset", options.dataset,
      checkpoint_dataset ? "Dataset: mnist, fashion-mnist, idx, cifar10 or folder [default: the checkpoint's]"
                         : "Dataset: mnist, fashion-mnist; idx: another set in the MNIST file layout (needs --data-dir); "
                           "cifar10: CIFAR-10's binary batches or its .tar.gz; folder: DIR/train/<class>/ and "
                           "DIR/test/<class>/ folders of PNG/JPEG pictures (needs --data-dir)");
  dataset->check(CLI::IsMember({"mnist", "fashion-mnist", "idx", "cifar10", "folder"}));
  if (!checkpoint_dataset) dataset->capture_default_str();
  command.add_option("--data-dir", options.data_dir,
                     "Where the set is: the directory with the four IDX files (.gz or raw), with CIFAR-10's batches "
                     "or cifar-10-binary.tar.gz (or that file itself), or with a folder set's train/ and test/ "
                     "[default: ./data/mnist, ./data/fashion-mnist or ./data/cifar10]");
  command.add_option("--dataset-name", options.dataset_name,
                     "With --dataset idx, cifar10 or folder: the set's name, recorded in checkpoints and config.json "
                     "[default: the --data-dir directory's name]");
  command.add_option("--limit-train", options.limit_train, "Use only the first N training images (0: all)")
      ->check(whole_number_at_least(0));
  command.add_option("--limit-test", options.limit_test, "Use only the first N test images (0: all)")
      ->check(whole_number_at_least(0));
}

void add_switch(CLI::App& command, const std::string& on, const std::string& off, bool& value, const std::string& help) {
  CLI::Option* on_flag = command.add_flag_callback(on, [&value] { value = true; }, help);
  CLI::Option* off_flag = command.add_flag_callback(off, [&value] { value = false; }, "The opposite of " + on);
  on_flag->excludes(off_flag);
}

void add_device_options(CLI::App& command, DeviceOptions& options, DeviceFlags flags) {
  const bool training = flags != DeviceFlags::kInference;
  command.add_option("--device", options.device, "cpu, or a GPU index such as 0 [default: GPU 0 when one answers, else cpu]");
  command.add_flag("--deterministic", options.deterministic,
                   training ? "Bit-identical reruns: deterministic GPU algorithms only, and metrics.csv without its timing columns"
                            : "GPU: deterministic algorithms only, for bit-identical reruns");
  command.add_option("--threads", options.threads,
                     "CPU: compute threads (0: every core this process may use, at most its cgroup's CPU quota rounded up; or OMP_NUM_THREADS). Results are "
                     "bit-identical for any count; see README, CPU backend")
      ->check(whole_number_in(0, std::numeric_limits<int>::max()))
      ->capture_default_str();
  command.add_flag("--tf32", options.tf32, "GPU: allow TF32 tensor-core math (default fp32, for parity with the CPU)");
  add_switch(command, "--winograd", "--no-winograd", options.winograd,
             "CPU: 3x3 stride-1 convolutions of a --model network compute their forward pass and weight gradients "
             "by oneDNN's Winograd kernels where it has them (default; faster, rounding errors of a direct sum's size); "
             "--no-winograd: direct sums, as TensorFlow and PyTorch on CPUs");
  if (training) {
    command.add_option("--loader", options.loader, "GPU: how batches reach the device: auto, device (dataset resident) or pinned (streamed)")
        ->check(CLI::IsMember({"auto", "device", "pinned"}))
        ->capture_default_str();
  }
  if (flags == DeviceFlags::kTraining) {
    add_switch(command, "--graph", "--no-graph", options.graph,
               "GPU: replay each step shape as a captured CUDA graph (needs --loader device). Experimental until "
               "verified on a GPU, so off by default; --no-graph forces eager launches");
    command.add_option("--graph-steps", options.graph_steps, "GPU: training steps per graph replay with --graph")
        ->check(whole_number_in(1, 64))
        ->capture_default_str();
  }
  command.add_option("--kernels", options.kernels,
                     "GPU: classic, or fused (bias, ReLU and their gradients folded into cuBLASLt epilogues and the "
                     "pooling kernels; for a --model, in the layers that can take them; experimental until verified "
                     "on a GPU)")
      ->check(CLI::IsMember({"classic", "fused"}))
      ->capture_default_str();
  command.add_option("--pooling", options.pooling, "GPU: pooling by the custom kernels (fused) or by cuDNN (cudnn; a --model whose same padding "
                     "is asymmetric, which cuDNN cannot pad, is refused)")
      ->check(CLI::IsMember({"fused", "cudnn"}))
      ->capture_default_str();
  if (training) {
    command.add_option("--profile-steps", options.profile_steps,
                       "GPU: A:B brackets training steps A..B (1-based, of this process) with cudaProfilerStart/Stop, "
                       "for ncu/nsys capture ranges (tools/profile.sh)");
  }
}

std::pair<int64_t, int64_t> parse_step_range(const std::string& text) {
  const std::string expected = "--profile-steps '" + text + "': expected A:B with 1 <= A <= B, e.g. 20:24";
  const std::size_t colon = text.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) throw Error(expected);
  auto number = [&](const std::string& part) {
    if (part.size() > 12 || part.find_first_not_of("0123456789") != std::string::npos) throw Error(expected);
    return std::stoll(part);
  };
  const int64_t first = number(text.substr(0, colon));
  const int64_t last = number(text.substr(colon + 1));
  if (first < 1 || last < first) throw Error(expected);
  return {first, last};
}

namespace {

void truncate(ImageSet& set, int64_t limit) {
  if (limit <= 0 || limit >= set.count) return;
  set.count = limit;
  set.pixels.resize(static_cast<size_t>(limit * set.image_size()));
  set.labels.resize(static_cast<size_t>(limit));
}

}  // namespace

std::filesystem::path data_directory(const DataOptions& options) {
  return options.data_dir.empty() ? default_data_dir(parse_dataset_kind(options.dataset)) : std::filesystem::path(options.data_dir);
}

Dataset load_dataset_from_options(const DataOptions& options, std::ostream& out, DatasetSplits splits) {
  const DatasetKind kind = parse_dataset_kind(options.dataset);
  if (!dataset_has_own_name(kind) && !options.dataset_name.empty()) {
    throw Error("--dataset-name '" + options.dataset_name +
                "' names an idx, cifar10 or folder set; give it with one of those --dataset kinds, or drop it");
  }
  const std::filesystem::path directory = data_directory(options);
  Dataset dataset = load_dataset(directory, kind, splits);
  if (dataset_has_own_name(kind)) {
    // A .tar.gz given as --data-dir is named after the directory holding it.
    const std::filesystem::path where = std::filesystem::absolute(directory).lexically_normal();
    const std::filesystem::path named = std::filesystem::is_regular_file(where) ? where.parent_path() : where;
    dataset.name = options.dataset_name.empty() ? named.filename().string() : options.dataset_name;
    if (dataset.name.empty()) dataset.name = dataset_kind_name(kind);  // --data-dir / has no name of its own
  }
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
  backend.threads = options.threads;
  backend.tf32 = options.tf32;
  backend.winograd = options.winograd;
  backend.loader = options.loader;
  backend.graph = options.graph;
  backend.graph_steps = options.graph_steps;
  backend.kernels = options.kernels;
  backend.pooling = options.pooling;
  if (!options.profile_steps.empty()) {
    std::tie(backend.profile_first_step, backend.profile_last_step) = parse_step_range(options.profile_steps);
  }
  return backend;
}

void note_unused_gpu_settings(const DeviceOptions& options, const Backend& backend, std::ostream& notes) {
  if (backend.on_gpu()) return;
  const DeviceOptions defaults;
  std::vector<std::string> given;
  if (options.tf32) given.push_back("--tf32");
  if (options.loader != defaults.loader) given.push_back("--loader " + options.loader);
  if (options.graph) given.push_back("--graph");
  if (options.graph_steps != defaults.graph_steps) given.push_back("--graph-steps " + std::to_string(options.graph_steps));
  if (options.kernels != defaults.kernels) given.push_back("--kernels " + options.kernels);
  if (options.pooling != defaults.pooling) given.push_back("--pooling " + options.pooling);
  if (!options.profile_steps.empty()) given.push_back("--profile-steps " + options.profile_steps);
  if (given.empty()) return;
  std::string list;
  for (const std::string& setting : given) list += (list.empty() ? "" : ", ") + setting;
  notes << "note: " << list << (given.size() == 1 ? " is a GPU setting" : " are GPU settings")
        << "; the CPU backend runs without " << (given.size() == 1 ? "it" : "them") << "\n";
}

}  // namespace train_gpu::cli
