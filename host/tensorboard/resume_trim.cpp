#include "host/tensorboard/resume_trim.h"

#include <system_error>

#include "host/tensorboard/event_file.h"
#include "host/tensorboard/record_file.h"
#include "host/train/atomic_file.h"

namespace train_gpu::tensorboard {

namespace fs = std::filesystem;

bool tag_counts_optimizer_steps(const std::string& tag) { return tag.rfind(kRunningTagPrefix, 0) == 0; }

TrimSummary drop_events_after(const fs::path& directory, int64_t epochs_completed, int64_t step) {
  TrimSummary summary;
  for (const fs::path& file : event_files(directory)) {
    const EventFileContents contents = read_event_file(file);
    bool changed = !contents.damage.empty();
    if (changed && summary.damage.empty()) summary.damage = file.filename().string() + ": " + contents.damage;
    std::string kept;
    int64_t values_kept = 0;
    for (const Event& event : contents.events) {
      if (!event.has_summary()) {  // the file_version record
        kept += frame_record(event.SerializeAsString());
        continue;
      }
      Event trimmed = event;
      Summary* values = trimmed.mutable_summary();
      values->clear_value();
      for (const Summary::Value& value : event.summary().value()) {
        const int64_t limit = tag_counts_optimizer_steps(value.tag()) ? step : epochs_completed;
        if (event.step() <= limit) {
          *values->add_value() = value;
        } else {
          ++summary.values_dropped;
          changed = true;
        }
      }
      if (values->value_size() == 0) continue;
      values_kept += values->value_size();
      kept += frame_record(trimmed.SerializeAsString());
    }
    if (!changed) continue;
    if (values_kept == 0) {
      std::error_code ignored;
      fs::remove(file, ignored);
      ++summary.files_removed;
    } else {
      write_file_atomically(file, kept.data(), kept.size());
      ++summary.files_rewritten;
    }
  }
  return summary;
}

}  // namespace train_gpu::tensorboard
