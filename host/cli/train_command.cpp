// Placeholder: the train command is being written.
#include "host/cli/commands.h"
#include "host/common/error.h"

namespace train_gpu::cli {

void add_train_command(CLI::App& app) {
  CLI::App* command = app.add_subcommand("train", "train (not implemented yet)");
  command->allow_extras();
  command->callback([] { throw Error("the train command is not implemented yet"); });
}

}  // namespace train_gpu::cli
