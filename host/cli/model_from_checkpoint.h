// What the commands that run a trained model share: its weights read from a train_gpu checkpoint
// or a PyTorch state_dict (with one line saying which), and for `evaluate` and `features` the
// model loaded into a backend with the dataset it was trained on attached. The dataset comes from the checkpoint's metadata unless --dataset is
// given, and a --dataset that contradicts the checkpoint is an Error rather than a silently
// meaningless evaluation.
#pragma once

#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "host/cli/options.h"
#include "host/data/dataset.h"
#include "host/eval/evaluated_checkpoint.h"
#include "host/model/backend.h"
#include "host/train/checkpoint.h"

namespace train_gpu::cli {

// Not movable: the backend keeps references to dataset.train and dataset.test, so the dataset
// lives here, declared before the backend so that it is destroyed after it.
struct LoadedModel {
  Checkpoint checkpoint;
  eval::EvaluatedCheckpoint evaluated;  // which checkpoint, for the files written from it
  Dataset dataset;
  std::unique_ptr<Backend> backend;

  LoadedModel() = default;
  LoadedModel(const LoadedModel&) = delete;
  LoadedModel& operator=(const LoadedModel&) = delete;
};

// The options every checkpoint-reading command takes: --checkpoint, --split, --out, the data
// and the device options.
struct CheckpointCommandOptions {
  std::string checkpoint;
  std::string split = "test";
  std::string out;
  DataOptions data;
  DeviceOptions device;

  Split split_value() const { return split == "train" ? Split::kTrain : Split::kTest; }
};
void add_checkpoint_command_options(CLI::App& command, CheckpointCommandOptions& options, const char* checkpoint_help,
                                    const char* split_help);

// A train_gpu checkpoint or a PyTorch state_dict of the model (train/checkpoint.h,
// load_model_weights), with one line to `out`: the checkpoint's epoch, step and dataset, or a
// notice that the file carries no train_gpu metadata.
ModelWeights load_weights_for_command(const std::filesystem::path& file, std::ostream& out);

// The class names a model's outputs stand for, without the data: the checkpoint's x.class_names
// (a JSON array the trainer records when the data named its classes otherwise than its kind does,
// e.g. a folder set's folder names), else the standard names of the dataset it was trained on
// (MNIST's digits for a checkpoint that does not say). A malformed x.class_names is an Error
// naming the file.
std::vector<std::string> model_class_names(const ModelWeights& weights, const std::filesystem::path& file, int classes);

// Loads `checkpoint_file` (either kind, as load_weights_for_command), the dataset (the checkpoint's
// unless `dataset_given`; for the test `split` only its test files), makes the backend the device
// options ask for (batches of up to `max_batch`), sets the state and attaches the data. Prints the
// files read and the device to `out`.
std::unique_ptr<LoadedModel> load_model_for_checkpoint(const std::filesystem::path& checkpoint_file, DataOptions data,
                                                       bool dataset_given, const DeviceOptions& device, Split split,
                                                       std::ostream& out, int max_batch = 100);

}  // namespace train_gpu::cli
