// Option groups that several commands share, so each flag is declared and documented once.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "host/data/dataset.h"
#include "host/model/backend.h"

namespace train_gpu::cli {

struct DataOptions {
  std::string dataset = "mnist";
  std::string data_dir;          // empty: default_data_dir(dataset)
  std::string dataset_name;      // --dataset idx: the set's name; empty: the directory's name
  int64_t limit_train = 0;       // 0: all
  int64_t limit_test = 0;        // 0: all
};

struct DeviceOptions {
  std::string device = "auto";
  bool deterministic = false;
  int threads = 0;                  // --threads: CPU compute threads, 0 = every core
  bool tf32 = false;
  bool winograd = true;             // --winograd / --no-winograd (CPU)
  std::string loader = "auto";
  bool graph = false;               // --graph / --no-graph
  int graph_steps = 8;
  std::string kernels = "classic";  // --kernels classic|fused
  std::string pooling = "fused";    // --pooling fused|cudnn
  std::string profile_steps;        // --profile-steps A:B, empty: none
};

// checkpoint_dataset: the command reads a checkpoint, whose dataset is the default, so --dataset
// shows no default of its own (it would read "=mnist" for a Fashion-MNIST checkpoint).
void add_data_options(CLI::App& command, DataOptions& options, bool checkpoint_dataset = false);

// Which device flags a command lists, so its --help shows only flags that change what it does.
enum class DeviceFlags {
  kTraining,   // everything: --loader, --graph/--no-graph/--graph-steps, --profile-steps, ...
  kBench,      // training's without the launch flags (bench chooses the launch mode per row)
  kInference,  // commands that train nothing: --device, --threads, --tf32, --deterministic, --kernels, --pooling
};
void add_device_options(CLI::App& command, DeviceOptions& options, DeviceFlags flags = DeviceFlags::kInference);

// --on and --off for one bool (they exclude each other), listed without CLI11's "{false}" (the
// value the negative form sets, which reads as the default); `help` is the --on flag's and says
// which is the default.
void add_switch(CLI::App& command, const std::string& on, const std::string& off, bool& value, const std::string& help);

// "A:B" (1 <= A <= B) -> {A, B}: the training steps of the process that --profile-steps brackets
// with cudaProfilerStart/Stop. Anything else is an Error naming the expected form.
std::pair<int64_t, int64_t> parse_step_range(const std::string& text);

// The directory the data options name: --data-dir, else the dataset's default (./data/<name>).
std::filesystem::path data_directory(const DataOptions& options);

// Loads the dataset the options name, applies the limits, and prints one line per file.
Dataset load_dataset_from_options(const DataOptions& options, std::ostream& out,
                                  DatasetSplits splits = DatasetSplits::kBoth);

// BackendOptions from the device flags (the Adam settings are the caller's).
BackendOptions backend_options_from(const DeviceOptions& options, int max_batch);

// On a backend that is not a GPU's, one "note: ..." line to `notes` naming the GPU-only settings
// the options give (--tf32, --graph, --kernels fused, ...), which that backend does not use;
// nothing when there are none or the backend is a GPU's.
void note_unused_gpu_settings(const DeviceOptions& options, const Backend& backend, std::ostream& notes);

}  // namespace train_gpu::cli
