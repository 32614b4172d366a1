#include "host/tensorboard/resume_trim.h"

#include <system_error>

#include "host/common/error.h"
#include "host/tensorboard/event_file.h"
#include "host/tensorboard/record_file.h"
#include "host/train/atomic_file.h"

namespace train_gpu::tensorboard {

namespace fs = std::filesystem;

namespace {

// Our file, read; or, when it is not ours, why (for the notice that names it). Only files that
// pass are ever changed.
bool read_if_ours(const fs::path& file, EventFileContents& contents, std::string& not_ours) {
  const std::string left = "left " + file.string() + " as it is (";
  const std::string shown = "; TensorBoard reads every file with \"tfevents\" in its name)";
  if (!has_event_file_name(file.filename().string())) {
    not_ours = left + "not named as train_gpu names its event files" + shown;
    return false;
  }
  contents = read_event_file(file);
  if (!contents.written_by_us()) {
    not_ours = left + (contents.writer.empty() ? std::string("its first record is not train_gpu's file_version record")
                                               : "written by " + contents.writer + ", not train_gpu") + shown;
    return false;
  }
  return true;
}

}  // namespace

bool tag_counts_optimizer_steps(const std::string& tag) {
  return tag.rfind(kBatchTagPrefix, 0) == 0 || tag.rfind("running/", 0) == 0;  // the latter: files written before 2026-12
}

bool tag_describes_whole_run(const std::string& tag) { return tag.rfind(kHParamsTagPrefix, 0) == 0; }

fs::path damaged_copy_name(const fs::path& file) {
  std::string name = file.filename().string();
  const std::size_t infix = name.find("tfevents");
  if (infix != std::string::npos) name.replace(infix, 8, "tf-events");
  const fs::path first = file.parent_path() / (name + ".damaged");
  std::error_code error;
  fs::path copy = first;
  for (int number = 2; fs::exists(fs::symlink_status(copy, error)); ++number) {
    copy = file.parent_path() / (name + ".damaged-" + std::to_string(number));
  }
  return copy;
}

TrimSummary drop_events_after(const fs::path& directory, int64_t epochs_completed, int64_t step) {
  TrimSummary summary;
  const std::string after = " written after the checkpoint (epoch " + std::to_string(epochs_completed) + ", step " +
                            std::to_string(step) + "); they are trained again";
  for (const fs::path& file : event_files(directory)) {
    EventFileContents contents;
    std::string not_ours;
    if (!read_if_ours(file, contents, not_ours)) {
      summary.notices.push_back(not_ours);
      continue;
    }
    const bool damaged = !contents.damage.empty();
    std::string kept;
    int64_t values_kept = 0;
    int64_t values_dropped = 0;
    int64_t values_replaced = 0;
    for (const Event& event : contents.events) {
      if (!event.has_summary()) {  // the file_version record
        kept += frame_record(event.SerializeAsString());
        continue;
      }
      Event trimmed = event;
      Summary* values = trimmed.mutable_summary();
      values->clear_value();
      for (const Summary::Value& value : event.summary().value()) {
        if (tag_describes_whole_run(value.tag())) {
          ++values_replaced;
          ++values_dropped;
          continue;
        }
        const int64_t limit = tag_counts_optimizer_steps(value.tag()) ? step : epochs_completed;
        if (event.step() <= limit) {
          *values->add_value() = value;
        } else {
          ++values_dropped;
        }
      }
      if (values->value_size() == 0) continue;
      values_kept += values->value_size();
      kept += frame_record(trimmed.SerializeAsString());
    }
    if (!damaged && values_dropped == 0) continue;
    summary.values_dropped += values_dropped;
    summary.values_replaced += values_replaced;

    std::string notice = file.string() + ": ";
    if (damaged) {
      // Moved before anything is written under the file's name, so that a failed write (a full
      // disk) still leaves the original bytes.
      const fs::path copy = damaged_copy_name(file);
      std::error_code error;
      fs::rename(file, copy, error);
      if (error) throw Error(file.string() + ": cannot move the damaged event file aside to " + copy.string() + ": " + error.message());
      ++summary.files_moved_aside;
      notice += "unreadable records (" + contents.damage + "); the original is now " + copy.filename().string() + ", ";
    }
    if (values_kept == 0) {
      if (!damaged) {
        std::error_code ignored;
        fs::remove(file, ignored);
        ++summary.files_removed;
      }
      notice += damaged                            ? "and no readable value was written before the checkpoint"
                : values_replaced == values_dropped ? std::string("removed: it held only the HParams session, which this start writes again")
                                                    : "removed: all its values were" + after;
    } else {
      write_file_atomically(file, kept.data(), kept.size());
      ++summary.files_rewritten;
      notice += damaged ? "rewritten with the " + std::to_string(values_kept) + " readable value(s)" : "";
      const int64_t values_after = values_dropped - values_replaced;
      if (values_after > 0) {
        notice += (damaged ? "; " : "") + std::string("dropped ") + std::to_string(values_after) + " value(s)" + after;
      }
      if (values_replaced > 0) {
        notice += (damaged || values_after > 0 ? "; " : "") + std::string("dropped the HParams session (") +
                  std::to_string(values_replaced) + " value(s)): this start writes it again";
      }
    }
    summary.notices.push_back(notice);
  }
  return summary;
}

std::vector<std::string> remove_earlier_run(const fs::path& directory) {
  std::vector<std::string> notices;
  for (const fs::path& file : event_files(directory)) {
    EventFileContents contents;
    std::string not_ours;
    if (!read_if_ours(file, contents, not_ours)) {
      notices.push_back(not_ours);
      continue;
    }
    std::error_code error;
    fs::remove(file, error);
    notices.push_back(error ? "could not remove " + file.string() + " of an earlier run: " + error.message()
                            : "removed " + file.string() + " of an earlier run");
  }
  return notices;
}

}  // namespace train_gpu::tensorboard
