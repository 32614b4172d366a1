// What `train_gpu bench` prints and writes: the table on stdout and the CSV (text fields quoted
// per RFC 4180 by host/common/csv_field.h, so pandas.read_csv and Python's csv module read the
// device name "cuda:0 NVIDIA H200, compute capability 9.0, ..." as one field).
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace train_gpu::cli {

struct BenchRow {
  int batch = 0;
  std::string launch;            // "eager", "graph (8 steps per replay)", "eager (why not graph)", "n/a" (CPU)
  std::string kernel_set;        // "classic" | "fused"; empty for the CPU
  std::string pooling;           // "fused" | "cudnn"; empty for the CPU
  int kernels_per_step = 0;      // 0: unknown
  int64_t steps_per_epoch = 0;
  double ms_per_epoch = 0;
  double samples_per_second = 0;
  double achieved_tflops = 0;
  double floor_ms = 0;           // matmul FLOPs at the peak rate; 0 when the peak is unknown
  double final_train_loss = 0;   // of the last timed epoch: a sanity check that it trained
};

// The table: one line per row, then a note for any launch that fell back from graphs.
void print_bench_table(const std::vector<BenchRow>& rows, bool with_floor, std::ostream& out);

// The CSV text: header, then one line per row, every line ending in "\n".
std::string bench_csv(const std::vector<BenchRow>& rows, const std::string& device);

}  // namespace train_gpu::cli
