#include "host/cli/model_from_checkpoint.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "host/common/error.h"
#include "host/common/format.h"
#include "host/model/backend_factory.h"
#include "host/model/image_set_check.h"

namespace train_gpu::cli {

void add_checkpoint_command_options(CLI::App& command, CheckpointCommandOptions& options, const char* checkpoint_help,
                                    const char* split_help) {
  command.add_option("--checkpoint", options.checkpoint, checkpoint_help)->required()->check(CLI::ExistingFile);
  command.add_option("--split", options.split, split_help)->check(CLI::IsMember({"test", "train"}))->capture_default_str();
  command.add_option("--out", options.out,
                     "Output directory [default: RUN/evaluation for the newest of RUN/checkpoints/* on the test split, else "
                     "RUN/evaluation/<name>[-train]; ./evaluation for a checkpoint outside a run]");
  add_data_options(command, options.data, /*checkpoint_dataset=*/true);
  add_device_options(command, options.device, DeviceFlags::kInference);
}

ModelWeights load_weights_for_command(const std::filesystem::path& file, std::ostream& out) {
  ModelWeights weights = load_model_weights(file);
  if (weights.foreign) {
    out << "note: " << file.string()
        << " carries no train_gpu metadata: read as a PyTorch state_dict of this model (weights only; step, epoch "
           "and dataset unknown)\n";
  } else {
    const CheckpointMetadata& meta = weights.checkpoint.metadata;
    const auto idx_name = meta.extra.find("dataset_name");
    out << "checkpoint " << file.string() << ": epoch " << meta.epoch << ", step "
        << with_thousands(weights.checkpoint.state.step) << ", trained on " << (meta.dataset.empty() ? "?" : meta.dataset)
        << (idx_name == meta.extra.end() ? "" : " (" + idx_name->second + ")") << "\n";
  }
  return weights;
}

std::vector<std::string> model_class_names(const ModelWeights& weights, const std::filesystem::path& file, int classes) {
  const CheckpointMetadata& meta = weights.checkpoint.metadata;
  const auto recorded = meta.extra.find("class_names");
  if (recorded == meta.extra.end()) {
    // The kind's own names, where the model has as many classes (an idx set of 12 has "0".."11").
    const std::vector<std::string>& standard = standard_class_names(parse_dataset_kind(meta.dataset.empty() ? "mnist" : meta.dataset));
    return standard.size() == static_cast<std::size_t>(classes) ? standard : numbered_class_names(classes);
  }
  const nlohmann::json names = nlohmann::json::parse(recorded->second, nullptr, /*allow_exceptions=*/false);
  const bool valid = names.is_array() && names.size() == static_cast<std::size_t>(classes) &&
                     std::all_of(names.begin(), names.end(), [](const nlohmann::json& name) {
                       return name.is_string() && !name.get<std::string>().empty();
                     });
  if (!valid) {
    throw Error(file.string() + ": metadata field 'x.class_names' is not a JSON array of " + std::to_string(classes) +
                " class names");
  }
  return names.get<std::vector<std::string>>();
}

std::unique_ptr<LoadedModel> load_model_for_checkpoint(const std::filesystem::path& checkpoint_file, DataOptions data,
                                                       bool dataset_given, const DeviceOptions& device, Split split,
                                                       std::ostream& out, int max_batch) {
  auto loaded = std::make_unique<LoadedModel>();
  const ModelWeights weights = load_weights_for_command(checkpoint_file, out);
  loaded->checkpoint = weights.checkpoint;
  loaded->evaluated.file = std::filesystem::absolute(checkpoint_file).lexically_normal();
  if (!weights.foreign) {
    loaded->evaluated.epoch = weights.checkpoint.metadata.epoch;
    loaded->evaluated.step = weights.checkpoint.state.step;
    loaded->evaluated.batches_into_epoch = weights.checkpoint.metadata.batches_into_epoch;
  }
  const std::string& trained_on = loaded->checkpoint.metadata.dataset;
  if (!trained_on.empty()) {
    if (!dataset_given) {
      data.dataset = trained_on;
    } else if (data.dataset != trained_on) {
      throw Error(checkpoint_file.string() + " was trained on " + trained_on + ", but --dataset is " + data.dataset +
                  "; drop --dataset or pass --dataset " + trained_on);
    }
    const DatasetKind kind = parse_dataset_kind(trained_on);  // an unknown name is an Error naming the choices
    const auto own_name = loaded->checkpoint.metadata.extra.find("dataset_name");
    if (dataset_has_own_name(kind) && own_name != loaded->checkpoint.metadata.extra.end()) {
      // The checkpoint names its set, not where it lives: only CIFAR-10 has a default directory.
      if (data.data_dir.empty() && kind != DatasetKind::kCifar10) {
        throw Error(checkpoint_file.string() + " was trained on the " + trained_on + " set '" + own_name->second +
                    "', which has no default directory: give --data-dir, the directory holding it");
      }
      if (data.dataset_name.empty()) data.dataset_name = own_name->second;
    }
  }
  out << "dataset " << data.dataset << ":\n";
  const bool test_only = split == Split::kTest;
  loaded->dataset = load_dataset_from_options(data, out, test_only ? DatasetSplits::kTestOnly : DatasetSplits::kBoth);
  check_data_fits_model(loaded->dataset.test, dataset_description(loaded->dataset), model_input_of(loaded->checkpoint.spec));
  BackendOptions options = backend_options_from(device, max_batch);
  options.spec = loaded->checkpoint.spec;
  loaded->backend = make_backend(parse_device(device.device), options, out);
  note_unused_gpu_settings(device, *loaded->backend, out);
  // Without training images the test split stands in for them: the backends' loaders are built
  // for two non-empty splits, and nothing here reads the train side.
  loaded->backend->attach_data(test_only ? loaded->dataset.test : loaded->dataset.train, loaded->dataset.test);
  loaded->backend->set_state(loaded->checkpoint.state);
  return loaded;
}

}  // namespace train_gpu::cli
