// Each command of the train_gpu CLI registers itself on the app; one file per command.
#pragma once

#include <CLI/CLI.hpp>

namespace train_gpu::cli {

// `train` is the default command: `train_gpu --device 0` is `train_gpu train --device 0`.
void add_train_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_summary_command(CLI::App& app);
void add_evaluate_command(CLI::App& app);
void add_features_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_export_command(CLI::App& app);
void add_predict_command(CLI::App& app);

// Runs the CLI; returns the process exit code. Errors print one line on stderr.
int run(int argc, char** argv);

}  // namespace train_gpu::cli
