// tools/bench/peers.py's own logic, without the frameworks CI lacks: it reads MNIST, trains
// train_gpu (on the CPU here) and reads its metrics, folds in `train_gpu bench --csv` rows, skips
// peers that cannot run with the reason, and prints the one table last. Frameworks themselves are
// smoke-tested by hand in a venv (docs/performance.md) and run for real by tools/device-bench.sh.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;

const std::string kScript = std::string(TRAIN_GPU_SOURCE_DIR) + "/tools/bench/peers.py";

bool ready() {
  return fs::exists(fs::path(TRAIN_GPU_MNIST_DIR) / "t10k-labels-idx1-ubyte.gz") && t::system_python_has("numpy");
}

TEST(PeersScript, TrainsTrainGpuFoldsInBenchRowsAndSaysWhyPeersWereSkipped) {
  if (!ready()) GTEST_SKIP() << "needs MNIST at " << TRAIN_GPU_MNIST_DIR << " and /usr/bin/python3 with numpy";
  t::TempDir scratch;
  const fs::path bench_csv = scratch.path() / "bench.csv";
  std::ofstream(bench_csv)
      << "device,batch,steps_per_epoch,ms_per_epoch,samples_per_second,achieved_tflops,floor_ms,train_loss,launch,"
         "kernel_set,pooling,kernels_per_step\n"
         "\"cuda:0 NVIDIA H200, compute capability 9.0\",64,938,21.500,2790697.7,13.78,4.424,0.1,"
         "graph (8 steps per replay),fused,fused,13\n"
         "\"cuda:0 NVIDIA H200, compute capability 9.0\",128,469,15.000,4000000.0,19.7,4.424,0.1,eager,classic,fused,21\n";
  const fs::path out_csv = scratch.path() / "peers.csv";
  const t::MergedCommandResult result = t::run_command_merged(
      "/usr/bin/python3 '" + kScript + "' --device cpu --epochs 2 --limit 192 --limit-test 100 --data-dir '" +
      std::string(TRAIN_GPU_MNIST_DIR) + "' --frameworks torch-graph --train-gpu '" + std::string(TRAIN_GPU_BINARY) +
      "' --train-gpu-config eager= --train-gpu-csv '" + bench_csv.string() + "' --csv '" + out_csv.string() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const std::string& out = result.output;
  // The table comes last: its heading after every progress line.
  const std::size_t table = out.find("ms/epoch: training only, median of epochs 2-2");
  ASSERT_NE(table, std::string::npos) << out;
  EXPECT_EQ(out.find("== ", table), std::string::npos) << out;
  EXPECT_NE(out.find("192 training images per epoch, batch 64, 2 epoch(s), device cpu"), std::string::npos) << out;
  // train_gpu trained 3 batches (64 + 64 + 64) twice and reported a test accuracy.
  const std::string written = t::read_text(out_csv);
  const std::vector<std::string> lines = t::lines_of(written);
  ASSERT_EQ(lines.size(), 4u) << written;
  EXPECT_EQ(lines[0], "engine,ms_per_epoch,samples_per_second,test_accuracy,note");
  EXPECT_EQ(lines[1].rfind("train_gpu eager,", 0), 0u) << lines[1];
  EXPECT_NE(lines[1].find(",0."), std::string::npos) << lines[1];  // an accuracy in (0, 1)
  // Only the batch-64 bench row, with its launch word and kernel count.
  EXPECT_EQ(lines[2], "train_gpu graph,21.500,2790697.7,,\"bench, fused kernels, fused pooling, 13 kernels/step\"");
  // CUDA graphs need CUDA whether or not PyTorch is installed here.
  EXPECT_EQ(lines[3].rfind("torch-graph,,,,skipped: ", 0), 0u) << lines[3];
}

TEST(PeersScript, UnknownFrameworksAreAnErrorNamingTheChoices) {
  if (!t::system_python_has("numpy")) GTEST_SKIP() << "/usr/bin/python3 lacks numpy";
  const t::MergedCommandResult result =
      t::run_command_merged("/usr/bin/python3 '" + kScript + "' --frameworks torch-eager,tensorflow");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("unknown 'tensorflow' (choose from torch-eager, torch-graph, jax, torch-compile)"),
            std::string::npos)
      << result.output;
}

}  // namespace
}  // namespace train_gpu
