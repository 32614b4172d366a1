// Placeholder: the inspect command is being written.
#include "host/cli/commands.h"
#include "host/common/error.h"

namespace train_gpu::cli {

void add_inspect_command(CLI::App& app) {
  CLI::App* command = app.add_subcommand("inspect", "inspect (not implemented yet)");
  command->allow_extras();
  command->callback([] { throw Error("the inspect command is not implemented yet"); });
}

}  // namespace train_gpu::cli
