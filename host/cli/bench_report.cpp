#include "host/cli/bench_report.h"

#include <cstdio>

#include "host/common/csv_field.h"
#include "host/common/format.h"
#include "host/model/backend.h"

namespace train_gpu::cli {

namespace {

// "graph (8 steps per replay)" -> "graph"; the parenthesis goes into a note under the table.
std::string launch_word(const std::string& launch) { return launch.substr(0, launch.find(' ')); }

}  // namespace

void print_bench_table(const std::vector<BenchRow>& rows, bool with_floor, std::ostream& out) {
  char line[320];
  std::snprintf(line, sizeof line, "%6s %-6s %-8s %-6s %8s %7s %12s %14s %10s %10s %11s\n", "batch", "launch",
                "kernels", "pool", "k/step", "steps", "ms/epoch", "samples/s", "TFLOP/s", "floor ms", "train loss");
  out << line;
  std::vector<std::string> notes;
  for (const BenchRow& row : rows) {
    const std::string floor = with_floor ? fixed(row.floor_ms, 2) : std::string("n/a");
    // "?": a GPU backend that could not count its launches; "-": a backend without launches (CPU).
    ExecutionReport report;
    report.launch = row.launch;
    const std::string kernels_per_step = row.kernels_per_step > 0     ? std::to_string(row.kernels_per_step)
                                         : report.launches_kernels() ? "?"
                                                                     : "-";
    std::snprintf(line, sizeof line, "%6d %-6s %-8s %-6s %8s %7lld %12.2f %14s %10.3f %10s %11.4f\n", row.batch,
                  launch_word(row.launch).c_str(), row.kernel_set.empty() ? "-" : row.kernel_set.c_str(),
                  row.pooling.empty() ? "-" : row.pooling.c_str(), kernels_per_step.c_str(),
                  static_cast<long long>(row.steps_per_epoch), row.ms_per_epoch,
                  with_thousands(static_cast<int64_t>(row.samples_per_second)).c_str(), row.achieved_tflops,
                  floor.c_str(), row.final_train_loss);
    out << line;
    const std::size_t space = row.launch.find(' ');
    if (space != std::string::npos) {
      const std::string note = "batch " + std::to_string(row.batch) + ": " + row.launch;
      notes.push_back(note);
    }
  }
  for (const std::string& note : notes) out << "  " << note << "\n";
}

std::string bench_csv(const std::vector<BenchRow>& rows, const std::string& device) {
  std::string text =
      "device,batch,steps_per_epoch,ms_per_epoch,samples_per_second,achieved_tflops,floor_ms,train_loss,launch,"
      "kernel_set,pooling,kernels_per_step\n";
  for (const BenchRow& row : rows) {
    char numbers[256];
    std::snprintf(numbers, sizeof numbers, ",%d,%lld,%.3f,%.1f,%.4f,%.3f,%.6f,", row.batch,
                  static_cast<long long>(row.steps_per_epoch), row.ms_per_epoch, row.samples_per_second,
                  row.achieved_tflops, row.floor_ms, row.final_train_loss);
    text += csv_field(device) + numbers + csv_field(row.launch) + "," + csv_field(row.kernel_set) + "," +
            csv_field(row.pooling) + "," + std::to_string(row.kernels_per_step) + "\n";
  }
  return text;
}

}  // namespace train_gpu::cli
