// `train_gpu summary`: the model --model names, or the one a checkpoint holds (as Keras's
// load_model(...).summary()), as a Keras-like table (layer, output shape, parameters), as the
// JSON Keras writes for it, or in the one-line form.
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "host/cli/commands.h"
#include "host/cli/model_from_checkpoint.h"
#include "host/cli/model_options.h"
#include "host/model/keras_json.h"
#include "host/model/model_summary.h"
#include "host/model/spec_line.h"

namespace train_gpu::cli {
namespace {

struct SummaryOptions {
  ModelOptions model;
  std::string input;  // empty: the JSON's own input, else MNIST's 1x28x28
  std::string print = "table";
  std::string checkpoint;  // a train_gpu checkpoint: its model instead of --model's
};

void print_model(const model::NetworkSpec& spec, const std::string& print) {
  if (print == "keras-json") {
    std::cout << model::keras_json(spec) << "\n";
  } else if (print == "line") {
    std::cout << model::spec_line(spec) << "\n";
  } else {
    std::cout << model_summary_table(spec);
  }
}

void run_summary(const SummaryOptions& options) {
  if (!options.checkpoint.empty()) {
    // The checkpoint's own model and input shape, named on stderr as the other commands name it.
    print_model(load_weights_for_command(options.checkpoint, std::cerr).checkpoint.spec, options.print);
    return;
  }
  // summary reads no data: a JSON keeps its own input shape unless --input names one it must match.
  const std::optional<model::Shape> input =
      options.input.empty() ? std::nullopt : std::optional<model::Shape>(parse_input_shape(options.input, "--input"));
  print_model(network_from_options(options.model, input ? &*input : nullptr, std::cerr), options.print);
}

}  // namespace

void add_summary_command(CLI::App& app) {
  CLI::App* command = app.add_subcommand("summary", "Print the model's layers, output shapes and parameter counts");
  auto options = std::make_shared<SummaryOptions>();
  add_model_option(*command, options->model);
  CLI::Option* input = command->add_option(
      "--input", options->input, "The images' shape CxHxW, e.g. 3x32x32 [default: a JSON's own input shape, else MNIST's 1x28x28]");
  command->add_option("--checkpoint", options->checkpoint,
                      "A train_gpu checkpoint (.safetensors): show the model it holds instead of --model's")
      ->check(CLI::ExistingFile)
      ->excludes(input)
      ->excludes(command->get_option("--model"));
  command->add_option("--print", options->print,
                      "table (Keras's model.summary()), keras-json (what Keras's model.to_json() writes for it: "
                      "keras.models.model_from_json reads it) or line (the one-line --model form)")
      ->check(CLI::IsMember({"table", "keras-json", "line"}))
      ->capture_default_str();
  command->callback([options] { run_summary(*options); });
}

}  // namespace train_gpu::cli
