// tools/bench/cpu_peers.py's own logic with train_gpu alone (the frameworks are not installed in
// CI): the table names the CPU model and the load, --contention runs beside one busy process
// per CPU and stops them when it ends, also when interrupted (Ctrl-C, SIGTERM). And --model
// FILE.json, a Keras JSON model, trained by TensorFlow (the test venv's, where it has one) and by
// train_gpu, each row naming the model and the batch size.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sched.h>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;

const std::string kScript = std::string(TRAIN_GPU_SOURCE_DIR) + "/tools/bench/cpu_peers.py";
const std::string kInterrupt = std::string(TRAIN_GPU_SOURCE_DIR) + "/tests/support/interrupt_cpu_peers.py";

bool ready() {
  return fs::exists(fs::path(TRAIN_GPU_MNIST_DIR) / "t10k-labels-idx1-ubyte.gz") && t::system_python_has("numpy");
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const std::string value = line.substr(line.find(':') + 1);
      const std::size_t first = value.find_first_not_of(" \t");
      return first == std::string::npos ? "" : value.substr(first);
    }
  }
  return "unknown CPU";
}

int cpus_the_runs_use() {
  cpu_set_t set;
  CPU_ZERO(&set);
  const int allowed = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  return std::min(allowed, 2);  // --threads 2, the script's default, pins to the first two
}

std::string tiny_run(const fs::path& csv) {
  return "/usr/bin/python3 '" + kScript + "' --systems train_gpu,train_gpu-1thread --rounds 1 --epochs 1"
         " --limit-train 192 --limit-test 100 --data-dir '" + std::string(TRAIN_GPU_MNIST_DIR) + "' --train-gpu '" +
         std::string(TRAIN_GPU_BINARY) + "' --csv '" + csv.string() + "'";
}

TEST(CpuPeersScript, ContentionRunsBesideOneBusyProcessPerCpuAndTheTableNamesTheCpu) {
  if (!ready()) GTEST_SKIP() << "needs MNIST at " << TRAIN_GPU_MNIST_DIR << " and /usr/bin/python3 with numpy";
  t::TempDir scratch;
  const fs::path csv = scratch.path() / "peers.csv";
  const t::MergedCommandResult result = t::run_command_merged(tiny_run(csv) + " --contention");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const std::string& out = result.output;
  t::expect_contains(out, "contention: " + std::to_string(cpus_the_runs_use()) + " busy processes (pids ");
  t::expect_contains(out, "contention: the busy processes are stopped");
  t::expect_contains(out, "## " + cpu_model() + ": train_gpu and its peers on the CPU, 2 thread(s) each, loaded: ");
  t::expect_contains(out, "train_gpu --threads 2 vs --threads 1");
  const std::vector<std::string> lines = t::lines_of(t::read_text(csv));
  ASSERT_EQ(lines.size(), 3u) << t::read_text(csv);
  EXPECT_EQ(lines[0].rfind("cpu_model,load,date,system,", 0), 0u) << lines[0];
  EXPECT_NE(lines[1].find("train_gpu,1,0,"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("train_gpu-1thread,1,0,"), std::string::npos) << lines[2];
  t::expect_contains(lines[2], "--threads 1");
  EXPECT_NE(lines[1].find("loaded: one busy process on each of CPUs "), std::string::npos) << lines[1];

  // Quiet: no busy processes, and the table says so.
  const t::MergedCommandResult quiet = t::run_command_merged(tiny_run(csv));
  ASSERT_EQ(quiet.exit_code, 0) << quiet.output;
  EXPECT_EQ(quiet.output.find("contention:"), std::string::npos) << quiet.output;
  t::expect_contains(quiet.output, "2 thread(s) each, quiet");
}

// Interrupted in the middle of a run: the script still stops every busy process before it exits.
TEST(CpuPeersScript, ContentionStopsTheBusyProcessesOnCtrlCAndSigterm) {
  if (!ready()) GTEST_SKIP() << "needs MNIST at " << TRAIN_GPU_MNIST_DIR << " and /usr/bin/python3 with numpy";
  t::TempDir scratch;
  for (const std::string signal_name : {"SIGINT", "SIGTERM"}) {
    // Enough work that the signal lands during a run: the full training set, one epoch.
    const t::MergedCommandResult result = t::run_command_merged(
        "/usr/bin/python3 '" + kInterrupt + "' " + signal_name + " '" + kScript +
        "' --contention --systems train_gpu --rounds 1 --epochs 1 --data-dir '" + std::string(TRAIN_GPU_MNIST_DIR) +
        "' --train-gpu '" + std::string(TRAIN_GPU_BINARY) + "'");
    ASSERT_EQ(result.exit_code, 0) << result.output;
    const std::vector<std::string> lines = t::lines_of(result.output);
    ASSERT_FALSE(lines.empty());
    const auto values = t::key_values(lines.back());
    EXPECT_EQ(values.at("seen"), "1") << signal_name << ": no contention line\n" << result.output;
    EXPECT_EQ(values.at("alive_after"), "0") << signal_name << ": busy processes outlived the script\n" << result.output;
    EXPECT_NE(values.at("exit"), "0") << signal_name << ": the interrupted script claimed success\n" << result.output;
  }
}

// --model: a Keras JSON model (Keras's Simple MNIST convnet, tools/bench/models/) on both sides
// that read it, at --batch-size 128; every row of the table and the CSV names the model and the
// batch, and the systems without a Keras JSON reader get a row saying they were skipped.
const std::string kConvnet = std::string(TRAIN_GPU_SOURCE_DIR) + "/tools/bench/models/simple_mnist_convnet.json";

std::string tiny_model_run(const std::string& systems, const fs::path& csv) {
  return "/usr/bin/python3 '" + kScript + "' --model '" + kConvnet + "' --batch-size 128 --systems " + systems +
         " --rounds 1 --epochs 1 --limit-train 256 --limit-test 100 --data-dir '" + std::string(TRAIN_GPU_MNIST_DIR) +
         "' --train-gpu '" + std::string(TRAIN_GPU_BINARY) + "' --csv '" + csv.string() + "'";
}

// The CSV row of `system`, which must name the model and the batch size in its last two fields.
std::string csv_row(const std::vector<std::string>& lines, const std::string& system) {
  for (const std::string& line : lines) {
    if (line.find("," + system + ",") != std::string::npos) {
      EXPECT_EQ(line.substr(line.size() - std::string(",simple_mnist_convnet.json,128").size()),
                ",simple_mnist_convnet.json,128")
          << line;
      return line;
    }
  }
  ADD_FAILURE() << "no CSV row for " << system;
  return "";
}

TEST(CpuPeersScript, KerasTrainsTheModelJsonAndTheRowsNameModelAndBatch) {
  if (!ready()) GTEST_SKIP() << "needs MNIST at " << TRAIN_GPU_MNIST_DIR << " and /usr/bin/python3 with numpy";
  const std::string lacking =
      t::python_lacking(TRAIN_GPU_KERAS_PYTHON, "numpy, tensorflow",
                        "configure with -DTRAIN_GPU_KERAS_PYTHON=<a venv's python with tensorflow>");
  if (!lacking.empty()) GTEST_SKIP() << lacking;
  // The script runs the frameworks from a venv's bin/python; the test venv is that venv.
  const fs::path venv = fs::path(TRAIN_GPU_KERAS_PYTHON).parent_path().parent_path();
  if (!fs::exists(venv / "bin" / "python")) GTEST_SKIP() << TRAIN_GPU_KERAS_PYTHON << " is not in a venv";
  t::TempDir scratch;
  const fs::path csv = scratch.path() / "peers.csv";
  const t::MergedCommandResult result = t::run_command_merged(
      tiny_model_run("tensorflow,torch-eager,jax", csv) + " --no-install --venv '" + venv.string() + "'");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const std::string& out = result.output;
  t::expect_contains(out, "torch-eager: skipped: no Keras JSON reader (--model)");
  t::expect_contains(out, "- job: model simple_mnist_convnet.json, 256 training images per epoch, batch 128,");
  // The last layer is Dense 10 softmax: the loss must take probabilities, not logits.
  t::expect_contains(out, "simple_mnist_convnet.json by keras.models.model_from_json, Keras's initial weights, "
                          "from_logits=False");
  t::expect_contains(out, "| tensorflow | simple_mnist_convnet.json | 128 | ");
  t::expect_contains(out, "| jax | simple_mnist_convnet.json | 128 | - | - | 0 | skipped: no Keras JSON reader");

  const std::vector<std::string> lines = t::lines_of(t::read_text(csv));
  ASSERT_EQ(lines.size(), 4u) << t::read_text(csv);
  EXPECT_NE(lines[0].find(",steady_epoch_seconds,model,batch_size"), std::string::npos) << lines[0];
  t::expect_contains(csv_row(lines, "tensorflow"), ",tensorflow,1,0,");
  t::expect_contains(csv_row(lines, "torch-eager"), ",torch-eager,0,0,,,,,skipped: no Keras JSON reader");
  t::expect_contains(csv_row(lines, "jax"), ",jax,0,0,,,,,skipped: no Keras JSON reader");
}

// train_gpu's side: `train --model FILE.json --batch-size 128`. Needs train to read --model
// (skipped, saying so, while `train --help` does not offer it).
TEST(CpuPeersScript, TrainGpuTrainsTheModelJsonAndTheRowsNameModelAndBatch) {
  if (!ready()) GTEST_SKIP() << "needs MNIST at " << TRAIN_GPU_MNIST_DIR << " and /usr/bin/python3 with numpy";
  const t::MergedCommandResult help = t::run_command_merged("'" + std::string(TRAIN_GPU_BINARY) + "' train --help");
  if (help.output.find("--model") == std::string::npos) GTEST_SKIP() << "train_gpu train has no --model yet";
  t::TempDir scratch;
  const fs::path csv = scratch.path() / "peers.csv";
  const t::MergedCommandResult result = t::run_command_merged(tiny_model_run("train_gpu", csv));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  t::expect_contains(result.output, "| train_gpu | simple_mnist_convnet.json | 128 | ");
  const std::vector<std::string> lines = t::lines_of(t::read_text(csv));
  ASSERT_EQ(lines.size(), 2u) << t::read_text(csv);
  t::expect_contains(csv_row(lines, "train_gpu"), ",train_gpu,1,0,");
}

}  // namespace
}  // namespace train_gpu
