// `train_gpu evaluate --checkpoint FILE`: loads a checkpoint, evaluates a split with it and
// writes the evaluation files (host/eval/report_files.h) next to the run that produced it.
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "host/cli/model_from_checkpoint.h"
#include "host/cli/commands.h"
#include "host/cli/options.h"
#include "host/eval/report_files.h"

namespace train_gpu::cli {

void add_evaluate_command(CLI::App& app) {
  struct Options {
    std::string checkpoint;
    std::string split = "test";
    std::string out;
    DataOptions data;
    DeviceOptions device;
  };
  auto options = std::make_shared<Options>();
  CLI::App* command = app.add_subcommand(
      "evaluate",
      "Evaluate a checkpoint on a split: loss, accuracy, confusion matrix with per-class precision and recall;\n"
      "writes confusion.csv, evaluation.json, mistakes.csv, mistakes.png and .npy arrays for tools/plot.py.\n"
      "The dataset is the checkpoint's unless --dataset is given (and a contradicting --dataset is an error)");
  command->add_option("--checkpoint", options->checkpoint, "Checkpoint file (.safetensors) to evaluate")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("--split", options->split, "Split to evaluate: test or train")
      ->check(CLI::IsMember({"test", "train"}))
      ->capture_default_str();
  command->add_option("--out", options->out,
                      "Output directory [default: RUN/evaluation when the checkpoint is RUN/checkpoints/*, else ./evaluation]");
  add_data_options(*command, options->data);
  add_device_options(*command, options->device);

  command->callback([options, command] {
    const bool dataset_given = command->count("--dataset") > 0;
    const std::unique_ptr<LoadedModel> loaded =
        load_model_for_checkpoint(options->checkpoint, options->data, dataset_given, options->device, std::cout);
    const std::filesystem::path out_dir =
        options->out.empty() ? eval::default_evaluation_dir(options->checkpoint) : std::filesystem::path(options->out);
    const Split split = options->split == "train" ? Split::kTrain : Split::kTest;
    eval::evaluate_and_write(*loaded->backend, loaded->dataset, split, out_dir, std::cout);
  });
}

}  // namespace train_gpu::cli
