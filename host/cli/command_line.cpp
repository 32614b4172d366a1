#include "host/cli/command_line.h"

namespace train_gpu::cli {

namespace {

std::vector<std::string>& command_line() {
  static std::vector<std::string> words;
  return words;
}

}  // namespace

void remember_command_line(int argc, char** argv) { command_line().assign(argv, argv + argc); }

const std::vector<std::string>& remembered_command_line() { return command_line(); }

}  // namespace train_gpu::cli
