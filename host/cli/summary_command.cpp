// `train_gpu summary`: the model as a Keras-like table (layer, output shape, parameters).
#include <iostream>

#include "host/cli/commands.h"
#include "host/model/model_summary.h"

namespace train_gpu::cli {

void add_summary_command(CLI::App& app) {
  CLI::App* command = app.add_subcommand("summary", "Print the model's layers, output shapes and parameter counts");
  command->callback([] { std::cout << model_summary_table(); });
}

}  // namespace train_gpu::cli
