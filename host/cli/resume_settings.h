// A resume continues the run as it was started: every setting its config.json records is taken
// from there unless the command line gives the flag, and a flag that changes a recorded setting
// says so, one line each. (Settings a checkpoint cannot continue under, such as another batch
// size, are refused later by the Trainer, as for a resume from a bare checkpoint file.)
#pragma once

#include <filesystem>
#include <ostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "host/cli/train_options.h"

namespace train_gpu::cli {

// The config.json of the run `checkpoint` belongs to (RUN/checkpoints/FILE -> RUN/config.json);
// empty when the checkpoint lies outside a run directory or the run has no config.json.
std::filesystem::path run_config_of_checkpoint(const std::filesystem::path& checkpoint);

// Sets each option of `options` that `command` was not given from `run_config` (read from
// `config_file`, named in the messages), and prints one line per given flag that differs from
// the recorded value. A setting the file lacks (an older train_gpu's) keeps the flag's default.
void apply_run_settings(const nlohmann::json& run_config, const std::filesystem::path& config_file,
                        const CLI::App& command, TrainOptions& options, std::ostream& out);

// config.json, parsed; an Error naming the file when it cannot be read or is not JSON.
nlohmann::json read_run_config(const std::filesystem::path& config_file);

}  // namespace train_gpu::cli
