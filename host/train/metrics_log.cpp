#include "host/train/metrics_log.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <vector>

#include "host/common/error.h"

namespace train_gpu {

std::string metrics_csv_row(const EpochMetrics& m) {
  char row[256];
  std::snprintf(row, sizeof row, "%lld,%.6f,%.6f,%.6f,%.6f,%.3f,%.1f", static_cast<long long>(m.epoch), m.train_loss,
                m.train_accuracy, m.test_loss, m.test_accuracy, m.epoch_seconds, m.samples_per_second);
  return row;
}

MetricsLog::MetricsLog(std::filesystem::path file, int64_t first_epoch) : file_(std::move(file)) {
  std::vector<std::string> kept{kMetricsHeader};
  if (std::ifstream existing{file_}) {
    std::string line;
    std::getline(existing, line);  // header
    while (std::getline(existing, line)) {
      if (!line.empty() && std::stoll(line) < first_epoch) kept.push_back(line);
    }
  }
  std::ofstream out(file_, std::ios::trunc);
  for (const std::string& line : kept) out << line << "\n";
  if (!out) throw Error("cannot write " + file_.string());
}

void MetricsLog::append(const EpochMetrics& metrics) {
  std::ofstream out(file_, std::ios::app);
  out << metrics_csv_row(metrics) << "\n";
  out.flush();
  if (!out) throw Error("cannot append to " + file_.string() + " (disk full?)");
}

}  // namespace train_gpu
