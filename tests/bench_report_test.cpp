// `train_gpu bench`'s output formats (host/cli/bench_report.h): the CSV, whose text fields
// (csv_field.h, tested in csv_field_test.cpp) keep the H200's device name with its three commas
// one field, and the table with its notes.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "host/cli/bench_report.h"

namespace train_gpu::cli {
namespace {

// An RFC 4180 line parser (no embedded line breaks needed here): the reader the CSV must satisfy.
std::vector<std::string> parse_csv_line(const std::string& line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        fields.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

BenchRow row(int batch, const std::string& launch) {
  BenchRow r;
  r.batch = batch;
  r.launch = launch;
  r.kernel_set = "fused";
  r.pooling = "cudnn";
  r.kernels_per_step = 13;
  r.steps_per_epoch = 938;
  r.ms_per_epoch = 24.5;
  r.samples_per_second = 2448979.6;
  r.achieved_tflops = 12.1;
  r.floor_ms = 4.424;
  r.final_train_loss = 0.0421;
  return r;
}

TEST(BenchReport, TheCsvRoundTripsThroughAnRfc4180Reader) {
  const std::string device = "cuda:0 NVIDIA H200, compute capability 9.0, 132 SMs, 139.8 GiB";
  const std::string fallback = "eager (CUDA graph capture failed (cuDNN said \"no\"), then: eager)";
  const std::string text = bench_csv({row(64, "graph (8 steps per replay)"), row(128, fallback)}, device);
  std::istringstream in(text);
  std::vector<std::vector<std::string>> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(parse_csv_line(line));
  ASSERT_EQ(lines.size(), 3u) << text;
  const std::vector<std::string> header = {"device", "batch", "steps_per_epoch", "ms_per_epoch", "samples_per_second",
                                           "achieved_tflops", "floor_ms", "train_loss", "launch", "kernel_set",
                                           "pooling", "kernels_per_step"};
  EXPECT_EQ(lines[0], header);
  for (std::size_t i = 1; i < 3; ++i) {
    ASSERT_EQ(lines[i].size(), header.size()) << text;
    EXPECT_EQ(lines[i][0], device);
    EXPECT_EQ(lines[i][3], "24.500");
    EXPECT_EQ(lines[i][9], "fused");
    EXPECT_EQ(lines[i][10], "cudnn");
    EXPECT_EQ(lines[i][11], "13");
  }
  EXPECT_EQ(lines[1][1], "64");
  EXPECT_EQ(lines[1][8], "graph (8 steps per replay)");
  EXPECT_EQ(lines[2][8], fallback);
}

TEST(BenchReport, TheTableShowsTheLaunchWordAndNotesWhyAGraphRowRanEagerly) {
  std::ostringstream out;
  BenchRow cpu = row(64, "n/a");
  cpu.kernel_set.clear();
  cpu.pooling.clear();
  cpu.kernels_per_step = 0;
  BenchRow uncounted = row(128, "eager");
  uncounted.kernels_per_step = 0;
  print_bench_table({row(64, "graph (8 steps per replay)"), row(64, "eager (graph capture failed: x)"), cpu, uncounted},
                    true, out);
  const std::string table = out.str();
  EXPECT_NE(table.find("k/step"), std::string::npos) << table;
  EXPECT_NE(table.find("    64 graph  fused    cudnn        13     938        24.50"), std::string::npos) << table;
  // A CPU row has no launches to count: "-", where a GPU row that could not count says "?".
  EXPECT_NE(table.find("    64 n/a    -        -             -"), std::string::npos) << table;
  EXPECT_NE(table.find("   128 eager  fused    cudnn         ?"), std::string::npos) << table;
  EXPECT_NE(table.find("  batch 64: eager (graph capture failed: x)"), std::string::npos) << table;
  EXPECT_NE(table.find("  batch 64: graph (8 steps per replay)"), std::string::npos) << table;
}

}  // namespace
}  // namespace train_gpu::cli
