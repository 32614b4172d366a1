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
  auto options = std::make_shared<CheckpointCommandOptions>();
  CLI::App* command = app.add_subcommand(
      "evaluate",
      "Evaluate a checkpoint on a split: loss, accuracy, confusion matrix with per-class precision and recall;\n"
      "writes confusion.csv, evaluation.json, mistakes.csv, mistakes.png and .npy arrays for tools/plot.py.\n"
      "The dataset is the checkpoint's unless --dataset is given (and a contradicting --dataset is an error)");
  add_checkpoint_command_options(*command, *options, "Checkpoint (.safetensors) to evaluate: train_gpu's, or a PyTorch state_dict of the model",
                                 "Split to evaluate: test or train");

  command->callback([options, command] {
    const bool dataset_given = command->count("--dataset") > 0;
    const Split split = options->split_value();
    const std::unique_ptr<LoadedModel> loaded =
        load_model_for_checkpoint(options->checkpoint, options->data, dataset_given, options->device, split, std::cout);
    const std::filesystem::path out_dir =
        options->out.empty() ? eval::default_evaluation_dir(options->checkpoint, split) : std::filesystem::path(options->out);
    if (options->out.empty() && out_dir.parent_path().filename() == "evaluation") {
      // A Keras user's model.evaluate() changes nothing on disk; here the run's own evaluation
      // (of its final checkpoint) stays, and this one goes beside it -- said, not silent.
      std::cout << "writing to " << out_dir.string() << ": " << out_dir.parent_path().string()
                << " keeps the run's final evaluation (its newest checkpoint on the test split)\n";
    }
    eval::evaluate_and_write(*loaded->backend, loaded->dataset, split, loaded->evaluated, out_dir, std::cout);
  });
}

}  // namespace train_gpu::cli
