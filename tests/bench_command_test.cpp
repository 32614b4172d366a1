// `train_gpu bench` as a user runs it: one row per batch size, a CSV pandas can read, and a
// training that actually happened (the loss fell well below the untrained model's ln 10 = 2.30).
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;

bool has_mnist() { return fs::exists(fs::path(TRAIN_GPU_MNIST_DIR) / "t10k-labels-idx1-ubyte.gz"); }

// The CSV's rows as Python's csv module reads them (what tools/device-check.sh and pandas use),
// fields joined by tabs: the device field holds commas ("cpu (oneDNN 2.6.3 avx512_core sgemm, conv+pool avx512, 2 threads, ...)"), so
// only a writer that quotes it keeps the columns in place.
std::vector<std::vector<std::string>> csv_rows(const fs::path& csv) {
  const t::MergedCommandResult read = t::run_command_merged(
      "/usr/bin/python3 -c 'import csv, sys; [print(\"\\t\".join(r)) for r in csv.reader(open(sys.argv[1], "
      "newline=\"\"))]' " + t::shell_quote(csv.string()));
  EXPECT_EQ(read.exit_code, 0) << read.output;
  std::vector<std::vector<std::string>> rows;
  for (const std::string& line : t::lines_of(read.output)) {
    std::vector<std::string> fields;
    std::stringstream stream(line);
    for (std::string field; std::getline(stream, field, '\t');) fields.push_back(field);
    rows.push_back(fields);
  }
  return rows;
}

TEST(BenchCommand, TimesEachBatchSizeAndWritesCsv) {
  if (!has_mnist()) GTEST_SKIP() << "MNIST not found at " << TRAIN_GPU_MNIST_DIR;
  t::TempDir scratch;
  const fs::path csv = scratch.path() / "bench.csv";
  const t::CommandResult result = t::run_command(
      t::shell_quote(TRAIN_GPU_BINARY) + " bench --device cpu --data-dir " + t::shell_quote(TRAIN_GPU_MNIST_DIR) +
          " --limit-train 640 --batch-sizes 64,128 --epochs 2 --warmup-steps 2 --peak-tflops 1 --csv " +
          t::shell_quote(csv.string()),
      scratch.path());
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("4,939,776 matmul FLOPs per sample"), std::string::npos) << result.out;

  const std::vector<std::string> lines = t::lines_of(t::read_text(csv));
  ASSERT_EQ(lines.size(), 3u) << t::read_text(csv);
  EXPECT_EQ(lines[0],
            "device,batch,steps_per_epoch,ms_per_epoch,samples_per_second,achieved_tflops,floor_ms,train_loss,launch,"
            "kernel_set,pooling,kernels_per_step");
  if (!t::system_python_has("csv")) GTEST_SKIP() << "no /usr/bin/python3 to read the CSV as its users do";
  const std::vector<std::vector<std::string>> rows = csv_rows(csv);
  ASSERT_EQ(rows.size(), 3u);
  const int batches[] = {64, 128};
  const int steps[] = {10, 5};  // 640 images: 10 batches of 64, 5 of 128
  for (int row = 0; row < 2; ++row) {
    const std::vector<std::string>& fields = rows[static_cast<size_t>(row) + 1];
    ASSERT_EQ(fields.size(), 12u) << lines[static_cast<size_t>(row) + 1];
    EXPECT_EQ(fields[0].rfind("cpu (", 0), 0u) << fields[0];
    EXPECT_NE(fields[0].find(','), std::string::npos) << "the CPU's description has a comma: " << fields[0];
    EXPECT_EQ(std::stoi(fields[1]), batches[row]);
    EXPECT_EQ(std::stoi(fields[2]), steps[row]);
    const double ms = std::stod(fields[3]);
    EXPECT_GT(ms, 0);
    // samples/s is 640 images over the epoch's time: the two columns must agree (to the
    // 3 decimals of ms and 1 of samples/s, far inside 1%).
    EXPECT_NEAR(std::stod(fields[4]), 640.0 / (ms / 1e3), 0.01 * std::stod(fields[4]));
    // floor at 1 TFLOP/s: 640 x 4,939,776 FLOPs = 3.161 ms.
    EXPECT_NEAR(std::stod(fields[6]), 3.161, 0.001);
    // The last timed epoch's mean loss after 12 (batch 128) or 22 (batch 64) Adam steps: 1.04 and
    // 0.68 measured on the CPU here, while the untrained model sits at ln 10 = 2.30 and a bench
    // whose optimizer does nothing reports 2.28-2.32. 1.6 lies about halfway (geometrically)
    // between the slower real value and the no-op one; 0.25 is well under half the faster one, and
    // a loss that low after so few steps would mean a miscounted mean.
    const double loss = std::stod(fields[7]);
    EXPECT_GT(loss, 0.25) << lines[static_cast<size_t>(row) + 1];
    EXPECT_LT(loss, 1.6) << lines[static_cast<size_t>(row) + 1];
    // The CPU has one row per batch size (no graph launches) and no kernel count.
    EXPECT_EQ(fields[8], "n/a");
    EXPECT_EQ(fields[11], "0");
  }
}

TEST(BenchCommand, GraphRowsAloneOnTheCpuAreOneErrorLine) {
  if (!has_mnist()) GTEST_SKIP() << "MNIST not found at " << TRAIN_GPU_MNIST_DIR;
  t::TempDir scratch;
  const t::CommandResult result = t::run_command(
      t::shell_quote(TRAIN_GPU_BINARY) + " bench --device cpu --launch graph --batch-sizes 64 --limit-train 128 --data-dir " +
          t::shell_quote(TRAIN_GPU_MNIST_DIR),
      scratch.path());
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("nothing was timed"), std::string::npos) << result.err;
}

TEST(BenchCommand, BadBatchSizeIsOneErrorLine) {
  t::TempDir scratch;
  const t::CommandResult result =
      t::run_command(t::shell_quote(TRAIN_GPU_BINARY) + " bench --device cpu --batch-sizes 64,0", scratch.path());
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("--batch-sizes"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace train_gpu
