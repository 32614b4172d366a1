// The run directory a training leaves behind: config.json, metrics.csv, label_distribution.csv,
// checkpoints/epoch-NNN.safetensors, evaluation/, plots/. Created and probed for writability at
// start-up, so a read-only or missing disk is reported before any work is done.
#pragma once

#include <filesystem>
#include <string>

namespace train_gpu {

// runs/<YYYYmmdd-HHMMSS> (with -2, -3... when taken).
std::filesystem::path default_run_directory();

// Creates dir and dir/checkpoints and writes+removes a probe file; Error naming the directory
// and the system's reason when any of that fails.
void prepare_run_directory(const std::filesystem::path& dir);

// "checkpoints/epoch-007.safetensors"
std::filesystem::path checkpoint_path(const std::filesystem::path& run_dir, int64_t epoch);

// "checkpoints/epoch-003-batch-00120.safetensors": stopped after 120 batches of epoch 3.
std::filesystem::path interrupted_checkpoint_path(const std::filesystem::path& run_dir, int64_t epoch_in_progress,
                                                  int64_t batches);

// The newest checkpoint in RUN_DIR/checkpoints (in training order, so a mid-epoch one counts when
// it is newer than the last epoch's), or the path itself when it is a file.
std::filesystem::path resolve_resume_source(const std::filesystem::path& run_dir_or_checkpoint);

}  // namespace train_gpu
