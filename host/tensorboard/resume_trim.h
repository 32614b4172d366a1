// What a run's start does to the event files an earlier start left in its TensorBoard directory.
// A resume: the events written after the checkpoint that training resumes from (an epoch
// completed, or steps taken, before a kill or a stop without a checkpoint) are trained and
// written again, so they are taken out of the old files first. Two step axes: Keras's "batch_"
// tags (and "running/", their name before 2026-12) count optimizer steps, all others count epochs.
// The HParams session ("_hparams_/" tags) describes the whole run: each start writes it anew, so a
// resume drops the earlier one whatever its step. A new run: the earlier run's files go, as its
// metrics.csv does.
//
// Only our own files are ever changed: named as event_file_name names them and starting with our
// file_version record (EventFileContents::written_by_us). Others that TensorBoard would read (a
// user's notes-tfevents.txt, another writer's file) are left as they are, and named. A file with
// unreadable records keeps every record that can still be read; the original is moved aside,
// never deleted, under a name TensorBoard does not read (damaged_copy_name).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace train_gpu::tensorboard {

inline constexpr const char* kBatchTagPrefix = "batch_";
inline constexpr const char* kHParamsTagPrefix = "_hparams_/";

// True for the tags whose step is the optimizer step; the others count epochs.
bool tag_counts_optimizer_steps(const std::string& tag);
// True for the tags a resume replaces whatever their step (the HParams session).
bool tag_describes_whole_run(const std::string& tag);

struct TrimSummary {
  int files_rewritten = 0;
  int files_removed = 0;      // left with no summary values
  int files_moved_aside = 0;  // damaged originals kept under a damaged_copy_name
  int64_t values_dropped = 0;   // values_replaced included
  int64_t values_replaced = 0;  // tag_describes_whole_run: the start writes them again
  std::vector<std::string> notices;  // one line per file touched or left alone, naming it
};

// Where the damaged original of `file` goes: its name with "tfevents" spelled "tf-events" (so
// that TensorBoard, which reads every file with "tfevents" in its name, does not show the
// records the rewritten file already holds a second time) and ".damaged", numbered ".damaged-2",
// ".damaged-3", ... past the copies already there, so none is ever overwritten.
std::filesystem::path damaged_copy_name(const std::filesystem::path& file);

// Rewrites (atomically, atomic_file.h) each of our event files in `directory` without the summary
// values written after the resume point: epoch-counted tags past `epochs_completed`, step-counted
// tags past `step`, and the whole-run tags. Files without any summary value left are removed; files with nothing to drop
// are not touched. A file with unreadable records is moved aside first and rewritten with what
// could be read.
TrimSummary drop_events_after(const std::filesystem::path& directory, int64_t epochs_completed, int64_t step);

// For a new run: removes our event files from `directory`. Notices name each file removed and
// each other event file left there.
std::vector<std::string> remove_earlier_run(const std::filesystem::path& directory);

}  // namespace train_gpu::tensorboard
