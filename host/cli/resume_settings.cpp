#include "host/cli/resume_settings.h"

#include <fstream>
#include <string>
#include <type_traits>

#include "host/common/error.h"
#include "host/train/run_config.h"

namespace train_gpu::cli {

namespace fs = std::filesystem;

namespace {

using Json = nlohmann::json;

// How a value reads in a message: as JSON, so strings are quoted and floats shortest.
std::string text_of(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }
Json json_of(float value) { return float_as_typed(value); }
template <typename T>
Json json_of(const T& value) { return Json(value); }

class RunSettings {
 public:
  RunSettings(const Json& config, const fs::path& file, const CLI::App& command, std::ostream& out)
      : config_(config), file_(file), command_(command), out_(out) {}

  // `value` takes the recorded setting at `pointer` unless one of `flags` was given; a given flag
  // that changes it says so.
  template <typename T>
  void take(const std::string& pointer, std::initializer_list<const char*> flags, T& value) {
    const Json::json_pointer at(pointer);
    if (!config_.contains(at)) return;
    T recorded;
    try {
      recorded = config_.at(at).get<T>();
    } catch (const Json::exception&) {
      throw Error(file_.string() + ": " + pointer + " is " + text_of(config_.at(at)) +
                  ", not a value of its flag; fix the file or start a new run");
    }
    const char* given = nullptr;  // the flag the command line gave, e.g. --no-tensorboard of the pair
    for (const char* flag : flags) given = command_.count(flag) > 0 ? flag : given;
    if (given == nullptr) {
      value = recorded;
    } else if (!(value == recorded)) {
      // A switch is its flag alone (--no-tensorboard); a value flag shows its value (--epochs 5).
      const std::string given_text = std::is_same_v<T, bool> ? "" : " " + text_of(json_of(value));
      out_ << given << given_text << " overrides the run's " << text_of(json_of(recorded)) << " (" << file_.string()
           << ")\n";
    }
  }

 private:
  const Json& config_;
  const fs::path& file_;
  const CLI::App& command_;
  std::ostream& out_;
};

// Older config.json files have no dataset/directory, only the files read, by the path given.
void add_data_directory_from_files(Json& config) {
  if (config.contains(Json::json_pointer("/dataset/directory"))) return;
  const Json::json_pointer first_file("/dataset/files/0/path");
  if (!config.contains(first_file) || !config.at(first_file).is_string()) return;
  const fs::path file = config.at(first_file).get<std::string>();
  if (file.is_absolute()) config["dataset"]["directory"] = file.parent_path().string();
}

}  // namespace

fs::path run_config_of_checkpoint(const fs::path& checkpoint) {
  if (checkpoint.parent_path().filename() != "checkpoints") return {};
  const fs::path file = checkpoint.parent_path().parent_path() / "config.json";
  std::error_code error;
  return fs::is_regular_file(file, error) ? file : fs::path();
}

Json read_run_config(const fs::path& config_file) {
  std::ifstream in(config_file);
  if (!in) throw Error(config_file.string() + ": cannot be read; give the run's settings as flags, or fix its permissions");
  try {
    return Json::parse(in);
  } catch (const Json::exception& e) {
    throw Error(config_file.string() + ": not valid JSON (" + e.what() + "); restore it, or move it away and give the run's settings as flags");
  }
}

void apply_run_settings(const Json& run_config, const fs::path& config_file, const CLI::App& command,
                        TrainOptions& options, std::ostream& out) {
  Json config = run_config;
  add_data_directory_from_files(config);
  out << "resuming with the settings in " << config_file.string() << " (a flag given overrides its setting)\n";
  RunSettings run(config, config_file, command, out);
  TrainConfig& training = options.config;
  run.take("/training/epochs", {"--epochs"}, training.epochs);
  run.take("/training/batch_size", {"--batch-size"}, training.batch_size);
  run.take("/training/test_batch_size", {"--test-batch-size"}, training.test_batch_size);
  run.take("/training/seed", {"--seed"}, training.seed);
  run.take("/training/save_every", {"--save-every"}, training.save_every);
  run.take("/training/keep_last", {"--keep-last"}, training.keep_last);
  OptimizerConfig& optimizer = training.optimizer;
  run.take("/training/optimizer/name", {"--optimizer"}, options.optimizer);
  run.take("/training/optimizer/learning_rate", {"--lr"}, optimizer.learning_rate);
  run.take("/training/optimizer/beta1", {"--beta1"}, optimizer.beta1);
  run.take("/training/optimizer/beta2", {"--beta2"}, optimizer.beta2);
  run.take("/training/optimizer/epsilon", {"--epsilon"}, optimizer.epsilon);
  run.take("/training/optimizer/weight_decay", {"--weight-decay"}, optimizer.weight_decay);
  run.take("/training/optimizer/momentum", {"--momentum"}, optimizer.momentum);
  run.take("/training/optimizer/nesterov", {"--nesterov"}, optimizer.nesterov);
  run.take("/training/optimizer/rho", {"--rho"}, optimizer.rho);
  LrSchedule& schedule = training.schedule;
  run.take("/training/lr_schedule/name", {"--lr-schedule"}, options.lr_schedule);
  run.take("/training/lr_schedule/step_epochs", {"--lr-step-epochs"}, schedule.step_epochs);
  run.take("/training/lr_schedule/gamma", {"--lr-gamma"}, schedule.gamma);
  run.take("/training/lr_schedule/min_lr", {"--lr-min"}, schedule.min_lr);
  run.take("/training/lr_schedule/warmup_epochs", {"--warmup-epochs"}, schedule.warmup_epochs);
  // The cosine's horizon stays the run's unless given: a resume with more --epochs continues the
  // schedule as planned (at --lr-min after it) rather than re-planning it.
  run.take("/training/lr_schedule/decay_epochs", {"--lr-decay-epochs"}, schedule.decay_epochs);
  run.take("/training/lr_schedule/plateau_patience", {"--lr-patience"}, training.plateau_patience);
  run.take("/training/lr_schedule/plateau_cooldown", {"--lr-plateau-cooldown"}, training.plateau_cooldown);
  run.take("/training/lr_schedule/plateau_min_delta", {"--lr-plateau-min-delta"}, training.plateau_min_delta);
  run.take("/training/validation_split", {"--validation-split"}, training.validation_split);
  run.take("/training/early_stopping", {"--early-stopping"}, training.early_stopping);
  run.take("/training/early_stopping_min_delta", {"--early-stopping-min-delta"}, training.early_stopping_min_delta);
  run.take("/training/restore_best", {"--restore-best", "--no-restore-best"}, training.restore_best);
  run.take("/training/clip_norm", {"--clip-norm"}, options.clip_norm);
  run.take("/training/label_smoothing", {"--label-smoothing"}, options.label_smoothing);
  run.take("/dataset/name", {"--dataset"}, options.data.dataset);
  run.take("/dataset/directory", {"--data-dir"}, options.data.data_dir);
  run.take("/dataset/dataset_name", {"--dataset-name"}, options.data.dataset_name);
  run.take("/settings/limit_train", {"--limit-train"}, options.data.limit_train);
  run.take("/settings/limit_test", {"--limit-test"}, options.data.limit_test);
  DeviceOptions& device = options.device;
  run.take("/settings/device", {"--device"}, device.device);
  run.take("/settings/deterministic", {"--deterministic"}, device.deterministic);
  run.take("/settings/threads", {"--threads"}, device.threads);
  run.take("/settings/tf32", {"--tf32"}, device.tf32);
  run.take("/settings/winograd", {"--winograd", "--no-winograd"}, device.winograd);
  run.take("/settings/loader", {"--loader"}, device.loader);
  run.take("/settings/graph", {"--graph", "--no-graph"}, device.graph);
  run.take("/settings/graph_steps", {"--graph-steps"}, device.graph_steps);
  run.take("/settings/kernels", {"--kernels"}, device.kernels);
  run.take("/settings/pooling", {"--pooling"}, device.pooling);
  run.take("/settings/plots", {"--plots"}, options.plots);
  run.take("/settings/tensorboard", {"--tensorboard", "--no-tensorboard"}, options.tensorboard);
  run.take("/settings/tensorboard_every", {"--tensorboard-every"}, options.tensorboard_every);
}

}  // namespace train_gpu::cli
