// The process's command line as given, kept by run() for config.json (a run directory records
// how it was started). CLI11 hands commands only the parsed values.
#pragma once

#include <string>
#include <vector>

namespace train_gpu::cli {

void remember_command_line(int argc, char** argv);
const std::vector<std::string>& remembered_command_line();

}  // namespace train_gpu::cli
