// Placeholder: the features command is being written.
#include "host/cli/commands.h"
#include "host/common/error.h"

namespace train_gpu::cli {

void add_features_command(CLI::App& app) {
  CLI::App* command = app.add_subcommand("features", "features (not implemented yet)");
  command->allow_extras();
  command->callback([] { throw Error("the features command is not implemented yet"); });
}

}  // namespace train_gpu::cli
