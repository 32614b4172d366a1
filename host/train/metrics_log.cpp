#include "host/train/metrics_log.h"

#include <cstdio>
#include <fstream>

#include "host/common/error.h"
#include "host/common/format.h"
#include "host/train/atomic_file.h"

namespace train_gpu {

std::string metrics_csv_row(const EpochMetrics& m, bool timings) {
  char row[256];
  std::snprintf(row, sizeof row, "%lld,%.6f,%.6f,%.6f,%.6f,", static_cast<long long>(m.epoch), m.train_loss,
                m.train_accuracy, m.test_loss, m.test_accuracy);
  std::string text = row;
  if (timings) {
    std::snprintf(row, sizeof row, "%.3f,%.1f,%lld", m.epoch_seconds, m.samples_per_second,
                  static_cast<long long>(m.resumed_at_batch));
    text += row;
  } else {
    text += ",,";
  }
  text += "," + shortest_float(static_cast<float>(m.learning_rate)) + ",";
  if (m.has_validation) {
    std::snprintf(row, sizeof row, "%.6f,%.6f", m.val_loss, m.val_accuracy);
    text += row;
  } else {
    text += ",";
  }
  return text;
}

namespace {

// The epoch number a row starts with, or -1 for a line that is not a row (it is then dropped:
// a torn last line of a run killed mid-write must not stop the resume).
int64_t row_epoch(const std::string& line) {
  long long epoch = -1;
  char comma = 0;
  if (std::sscanf(line.c_str(), "%lld%c", &epoch, &comma) != 2 || comma != ',') return -1;
  return epoch;
}

}  // namespace

MetricsLog::MetricsLog(std::filesystem::path file, int64_t first_epoch, bool timings)
    : file_(std::move(file)), timings_(timings) {
  std::string kept = std::string(kMetricsHeader) + "\n";
  if (std::ifstream existing{file_}) {
    std::string line;
    std::getline(existing, line);  // header
    while (std::getline(existing, line)) {
      const int64_t epoch = row_epoch(line);
      if (epoch >= 1 && epoch < first_epoch) kept += line + "\n";
    }
  }
  write_file_atomically(file_, kept.data(), kept.size());
}

void MetricsLog::append(const EpochMetrics& metrics) {
  std::ofstream out(file_, std::ios::app);
  out << metrics_csv_row(metrics, timings_) << "\n";
  out.flush();
  if (!out) throw Error("cannot append to " + file_.string() + " (disk full?)");
}

}  // namespace train_gpu
