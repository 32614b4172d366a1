// What resuming does to a run's earlier event files: the events written after the checkpoint that
// training resumes from (an epoch completed, or steps taken, before a kill or a stop without a
// checkpoint) are trained and written again, so they are taken out of the old files first. Two
// step axes: tags under "running/" count optimizer steps, all others count epochs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace train_gpu::tensorboard {

inline constexpr const char* kRunningTagPrefix = "running/";

// True for the tags whose step is the optimizer step; the others count epochs.
bool tag_counts_optimizer_steps(const std::string& tag);

struct TrimSummary {
  int files_rewritten = 0;
  int files_removed = 0;     // left with no summary values
  int64_t values_dropped = 0;
  std::string damage;        // a torn or corrupt tail met (and dropped), for the log; empty if none
};

// Rewrites (atomically, atomic_file.h) each event file in `directory` without the summary values
// written after the resume point: epoch-counted tags past `epochs_completed`, step-counted tags past
// `step`. A torn or corrupt tail (a killed writer) is dropped too. Files without any summary value
// left are removed; files with nothing to drop are not touched.
TrimSummary drop_events_after(const std::filesystem::path& directory, int64_t epochs_completed, int64_t step);

}  // namespace train_gpu::tensorboard
