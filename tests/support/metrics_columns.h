// metrics.csv lines without the columns that differ between any two runs of the same training:
// epoch_seconds, samples_per_second and resumed_at_batch (which says what the two timings cover),
// the 6th to 8th columns of host/train/metrics_log.h's header.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace train_gpu::testing {

inline std::string without_timing_columns(const std::string& line) {
  std::stringstream fields(line);
  std::string kept;
  int column = 0;
  for (std::string field; std::getline(fields, field, ','); ++column) {
    if (column >= 5 && column <= 7) continue;
    kept += (kept.empty() && column == 0 ? "" : ",") + field;
  }
  return kept;
}

// metrics.csv, each line without_timing_columns.
inline std::string metrics_without_timing(const std::filesystem::path& run_dir) {
  std::ifstream in(run_dir / "metrics.csv");
  std::string line, kept;
  while (std::getline(in, line)) kept += without_timing_columns(line) + "\n";
  return kept;
}

}  // namespace train_gpu::testing
