// The run directory a training leaves behind: config.json, metrics.csv, label_distribution.csv,
// checkpoints/epoch-NNN.safetensors, evaluation/, plots/. Created and probed for writability at
// start-up, so a read-only or missing disk is reported before any work is done.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

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

// Where in training a checkpoint's file name says it was written. Compared as numbers, never as
// text: "epoch-999" sorts after "epoch-1001" as text, and a resume picking it would train epochs
// 1000 and 1001 again.
struct CheckpointPosition {
  int64_t epoch = 0;  // the epoch the name carries: completed, or (with batches) in progress
  int64_t batches = 0;  // 0: the end of `epoch`; else batches taken of it
  // Training order: epoch-003-batch-00120 (mid epoch 3) < epoch-003 (its end) < epoch-004-batch-00001.
  bool operator<(const CheckpointPosition& other) const;
  bool operator==(const CheckpointPosition& other) const { return epoch == other.epoch && batches == other.batches; }
};

// The position in a name checkpoint_path or interrupted_checkpoint_path makes (any number of
// digits); nullopt for any other name, so stray files in checkpoints/ are left alone.
std::optional<CheckpointPosition> parse_checkpoint_name(const std::string& file_name);

// The checkpoints (files whose names parse) in `directory`, oldest first in training order;
// empty when there are none or the directory cannot be read.
std::vector<std::filesystem::path> checkpoints_in_training_order(const std::filesystem::path& directory);

// The newest checkpoint in RUN_DIR/checkpoints (in training order, so a mid-epoch one counts when
// it is newer than the last epoch's), or the path itself when it is a file.
std::filesystem::path resolve_resume_source(const std::filesystem::path& run_dir_or_checkpoint);

}  // namespace train_gpu
