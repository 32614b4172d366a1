// `train_gpu` (train) as a user runs it: the tutorial's first epoch on real data, what the run
// directory holds, and one clear error line for each wrong device or directory.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "host/model/model_spec.h"
#include "support/state_dict_file.h"
#include "support/test_support.h"

#ifdef TRAIN_GPU_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;

bool has_mnist() { return fs::exists(fs::path(TRAIN_GPU_MNIST_DIR) / "t10k-labels-idx1-ubyte.gz"); }

class TrainCommandTest : public ::testing::Test {
 protected:
  t::CommandResult train(const std::string& arguments) {
    return t::run_command(t::shell_quote(TRAIN_GPU_BINARY) + " " + arguments, scratch_.path());
  }
  // The last data row of metrics.csv, split at commas.
  static std::vector<double> last_metrics_row(const fs::path& run_dir) {
    std::ifstream in(run_dir / "metrics.csv");
    std::string line, last;
    std::getline(in, line);
    EXPECT_EQ(line,
              "epoch,train_loss,train_accuracy,test_loss,test_accuracy,epoch_seconds,samples_per_second,resumed_at_batch,"
              "learning_rate,val_loss,val_accuracy");
    while (std::getline(in, line)) last = line;
    std::vector<double> values;
    std::stringstream fields(last);
    for (std::string field; std::getline(fields, field, ',');) values.push_back(field.empty() ? NAN : std::stod(field));
    if (!last.empty() && last.back() == ',') values.push_back(NAN);  // getline yields no empty last field
    return values;
  }
  static void expect_one_error_line(const t::CommandResult& result, const std::string& must_contain) {
    EXPECT_NE(result.exit_code, 0);
    const std::vector<std::string> lines = t::lines_of(result.err);
    ASSERT_EQ(lines.size(), 1u) << result.err;
    EXPECT_EQ(lines[0].rfind("train_gpu: error: ", 0), 0u) << lines[0];
    EXPECT_NE(lines[0].find(must_contain), std::string::npos) << lines[0];
  }

  t::TempDir scratch_;
};

TEST_F(TrainCommandTest, FirstEpochOfMnistReachesTheTutorialsAccuracy) {
  if (t::kAddressSanitizer) GTEST_SKIP() << "a whole epoch's accuracy is the release suite's check (t::kAddressSanitizer)";
  if (!has_mnist()) GTEST_SKIP() << "MNIST not found at " << TRAIN_GPU_MNIST_DIR;
  const fs::path run = scratch_.path() / "run";
  const t::CommandResult result =
      train("--device cpu --data-dir " + t::shell_quote(TRAIN_GPU_MNIST_DIR) + " --epochs 1 --run-dir " + t::shell_quote(run.string()));
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("MNIST train images, verified"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("epoch 1/1  train loss "), std::string::npos) << result.out;

  const std::vector<double> row = last_metrics_row(run);
  ASSERT_EQ(row.size(), 11u);
  EXPECT_EQ(row[7], 0) << "the epoch was trained in one go, not resumed";
  EXPECT_EQ(row[0], 1);
  EXPECT_GE(row[4], 0.975) << "the tutorial reaches 97.69% after its first epoch";
  EXPECT_GT(row[2], 0.90);  // train accuracy over the epoch, before each update
  EXPECT_LT(row[3], 0.12);  // test loss (tutorial: 0.0750)
  EXPECT_TRUE(fs::exists(run / "checkpoints" / "epoch-001.safetensors"));

  const nlohmann::json config = nlohmann::json::parse(t::read_text(run / "config.json"));
  EXPECT_EQ(config["training"]["batch_size"], 64);
  EXPECT_EQ(config["training"]["seed"], 42);
  EXPECT_FLOAT_EQ(config["training"]["optimizer"]["epsilon"].get<float>(), 1e-7f);
  EXPECT_EQ(config["dataset"]["files"][0]["sha256"], "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609");
  EXPECT_EQ(config["model"]["parameters"], 693962);
  EXPECT_TRUE(config.contains("cudnn_algorithms"));
  EXPECT_TRUE(config["cudnn_algorithms"].is_null()) << "the CPU backend runs no cuDNN algorithm";
}

// label_distribution.csv, the tutorial's train-vs-test label table, from a quick --dry-run on the
// whole of MNIST. Expected: MNIST's class counts (train 5923 6742 5958 6131 5842 5421 5918 6265
// 5851 5949 of 60,000; test 980 1135 1032 1010 982 892 958 1028 974 1009 of 10,000) as percentages
// to the file's 6 decimals. Swapped columns or a limited split would show here.
TEST_F(TrainCommandTest, RunDirectoryHoldsMnistsLabelDistributionTrainVsTest) {
  if (!has_mnist()) GTEST_SKIP() << "MNIST not found at " << TRAIN_GPU_MNIST_DIR;
  const fs::path run = scratch_.path() / "run";
  const t::CommandResult result = train("--device cpu --dry-run --no-progress --data-dir " + t::shell_quote(TRAIN_GPU_MNIST_DIR) +
                                        " --run-dir " + t::shell_quote(run.string()));
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_EQ(t::read_text(run / "label_distribution.csv"),
            "label,train_percent,test_percent\n"
            "0,9.871667,9.800000\n"
            "1,11.236667,11.350000\n"
            "2,9.930000,10.320000\n"
            "3,10.218333,10.100000\n"
            "4,9.736667,9.820000\n"
            "5,9.035000,8.920000\n"
            "6,9.863333,9.580000\n"
            "7,10.441667,10.280000\n"
            "8,9.751667,9.740000\n"
            "9,9.915000,10.090000\n");
}

TEST_F(TrainCommandTest, FirstEpochOfFashionMnistReaches85Percent) {
  if (t::kAddressSanitizer) GTEST_SKIP() << "a whole epoch's accuracy is the release suite's check (t::kAddressSanitizer)";
  if (!fs::exists(fs::path(TRAIN_GPU_FASHION_DIR))) GTEST_SKIP() << "Fashion-MNIST not found at " << TRAIN_GPU_FASHION_DIR;
  const fs::path run = scratch_.path() / "fashion";
  const t::CommandResult result = train("--device cpu --dataset fashion-mnist --data-dir " + t::shell_quote(TRAIN_GPU_FASHION_DIR) +
                                        " --epochs 1 --run-dir " + t::shell_quote(run.string()));
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_GE(last_metrics_row(run)[4], 0.85);
}

// --threads reaches the CPU backend, and --threads 0 means OpenMP's default. The child runs with
// OMP_NUM_THREADS=3, which makes that default 3 on any machine, so neither count can pass by being
// what the machine would have chosen anyway. The count in force is in the backend's description
// (stdout, config.json's "device"); config.json's "settings" records the flag as given.
TEST_F(TrainCommandTest, ThreadsFlagSetsTheCpuBackendsCountAndZeroMeansTheDefault) {
  if (!has_mnist()) GTEST_SKIP() << "MNIST not found at " << TRAIN_GPU_MNIST_DIR;
  const std::pair<int, std::string> cases[] = {{1, ", 1 thread,"}, {0, ", 3 threads (OMP_NUM_THREADS),"}};
  for (const auto& [threads, in_force] : cases) {
    const fs::path run = scratch_.path() / ("threads-" + std::to_string(threads));
    const t::CommandResult result =
        t::run_command("OMP_NUM_THREADS=3 " + t::shell_quote(TRAIN_GPU_BINARY) + " --device cpu --threads " +
                           std::to_string(threads) + " --dry-run --no-progress --no-tensorboard --limit-train 64 --limit-test 64" +
                           " --data-dir " + t::shell_quote(TRAIN_GPU_MNIST_DIR) + " --run-dir " + t::shell_quote(run.string()),
                       scratch_.path());
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    t::expect_contains(result.out, "device: cpu (");
    t::expect_contains(result.out, in_force);
    const nlohmann::json config = nlohmann::json::parse(t::read_text(run / "config.json"));
    EXPECT_EQ(config["settings"]["threads"], threads);
    t::expect_contains(config["device"].get<std::string>(), in_force);
  }
}

// GPU-only settings given to a CPU run are named in one note rather than dropped silently; with
// none given (the defaults, or --device cpu alone) there is no note.
TEST_F(TrainCommandTest, GpuSettingsOnTheCpuAreNamedInOneNote) {
  if (!has_mnist()) GTEST_SKIP() << "MNIST not found at " << TRAIN_GPU_MNIST_DIR;
  const std::string common = " --device cpu --dry-run --no-progress --no-tensorboard --limit-train 64 --limit-test 64 --data-dir " +
                             t::shell_quote(TRAIN_GPU_MNIST_DIR) + " --run-dir ";
  t::CommandResult result = train(common + t::shell_quote((scratch_ / "gpu-flags").string()) +
                                  " --tf32 --kernels fused --pooling cudnn --graph --loader pinned");
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_EQ(result.err,
            "note: --tf32, --loader pinned, --graph, --kernels fused, --pooling cudnn are GPU settings; the CPU backend "
            "runs without them\n");
  result = train(common + t::shell_quote((scratch_ / "one-flag").string()) + " --kernels fused");
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_EQ(result.err, "note: --kernels fused is a GPU setting; the CPU backend runs without it\n");
  result = train(common + t::shell_quote((scratch_ / "plain").string()) + " --kernels classic");
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_EQ(result.err, "");
}

// Whether this machine has a GPU that --device 0 must train on, asked of the CUDA runtime directly:
// train_gpu's own answer is what the tests below check, so it cannot also decide whether they run.
bool a_gpu_answers(std::string* why_not) {
#ifdef TRAIN_GPU_HAVE_CUDA
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    *why_not = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(status);
    return false;
  }
  *why_not = "cudaGetDeviceCount found no device";
  return count > 0;
#else
  *why_not = "CPU-only build";
  return false;
#endif
}

TEST_F(TrainCommandTest, TensorBoardFilesAreOnByDefaultAndOffWithNoTensorboard) {
  if (!has_mnist()) GTEST_SKIP() << "MNIST not found at " << TRAIN_GPU_MNIST_DIR;
  const std::string common = "--device cpu --dry-run --data-dir " + t::shell_quote(TRAIN_GPU_MNIST_DIR) + " --run-dir ";
  const fs::path with = scratch_.path() / "with";
  t::CommandResult result = train(common + t::shell_quote(with.string()));
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  for (const fs::path& directory : {with, with / "train", with / "validation"}) {  // Keras's layout
    int event_files = 0;
    for (const auto& entry : fs::directory_iterator(directory)) {
      event_files += entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0;
    }
    EXPECT_EQ(event_files, 1) << directory;
  }

  const fs::path without = scratch_.path() / "without";
  result = train(common + t::shell_quote(without.string()) + " --no-tensorboard");
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_TRUE(fs::exists(without / "metrics.csv"));
  EXPECT_FALSE(fs::exists(without / "train"));
  EXPECT_FALSE(fs::exists(without / "validation"));
  for (const auto& entry : fs::directory_iterator(without)) {
    EXPECT_EQ(entry.path().filename().string().find("tfevents"), std::string::npos) << entry.path();
  }
  // "tensorboard:" begins each of its lines; a bare "tensorboard" may be in the data's path.
  EXPECT_EQ(result.out.find("tensorboard:"), std::string::npos) << result.out;

  const t::CommandResult refused = train(common + t::shell_quote(without.string()) + " --tensorboard-every -1");
  EXPECT_NE(refused.exit_code, 0);
  t::expect_contains(refused.err, "--tensorboard-every: must be a whole number of at least 0, got '-1'");
}

TEST_F(TrainCommandTest, AGpuThatDoesNotAnswerIsAnErrorNamingTheCause) {
  // No GPU on the development and CI machines: the CUDA build reports the driver, a CPU-only
  // build says so. Never a silent fallback to the CPU, which would exit 0 and fail here. The
  // limits keep such a fallback quick to run (and fail).
  std::string why_not;
  if (a_gpu_answers(&why_not)) GTEST_SKIP() << "a GPU answers on this machine, so --device 0 rightly trains on it";
  const t::CommandResult result = train("--device 0 --data-dir " + t::shell_quote(TRAIN_GPU_MNIST_DIR) +
                                        " --epochs 1 --limit-train 64 --limit-test 64 --no-progress --run-dir " +
                                        t::shell_quote((scratch_.path() / "run").string()));
  SCOPED_TRACE("no GPU here: " + why_not);
  expect_one_error_line(result, "--device 0");
  EXPECT_NE(result.err.find("--device cpu"), std::string::npos) << result.err;
  EXPECT_FALSE(fs::exists(scratch_.path() / "run")) << "the run started on some other device";
}

// Runs everywhere, GPU or not (no machine here has 100 GPUs): a missing index is an error too.
TEST_F(TrainCommandTest, AGpuIndexBeyondTheMachinesIsAnError) {
  const t::CommandResult result = train("--device 99 --data-dir " + t::shell_quote(TRAIN_GPU_MNIST_DIR) +
                                        " --epochs 1 --limit-train 64 --limit-test 64 --no-progress --run-dir " +
                                        t::shell_quote((scratch_.path() / "run").string()));
  expect_one_error_line(result, "--device 99");
  EXPECT_NE(result.err.find("--device cpu"), std::string::npos) << result.err;
  EXPECT_FALSE(fs::exists(scratch_.path() / "run")) << "the run started on some other device";
}

// evaluate/features/export/predict read a PyTorch state_dict of the model; resuming cannot (no
// moments, no step), and says why in one line.
TEST_F(TrainCommandTest, ResumingFromAStateDictIsRefusedWithTheReason) {
  if (!has_mnist()) GTEST_SKIP() << "MNIST not found at " << TRAIN_GPU_MNIST_DIR;
  const fs::path state_dict = scratch_.path() / "net.safetensors";
  t::write_state_dict(state_dict, std::vector<float>(model::kParameterCount, 0.0f));
  const t::CommandResult result = train("--device cpu --data-dir " + t::shell_quote(TRAIN_GPU_MNIST_DIR) + " --resume " +
                                        t::shell_quote(state_dict.string()) + " --run-dir " +
                                        t::shell_quote((scratch_.path() / "run").string()));
  expect_one_error_line(result, "without train_gpu metadata (a PyTorch state_dict?)");
}

TEST_F(TrainCommandTest, MalformedDeviceIsRejected) {
  expect_one_error_line(train("--device gpu7"), "--device 'gpu7'");
}

TEST_F(TrainCommandTest, UnwritableRunDirectoryIsReportedBeforeTraining) {
  if (!has_mnist()) GTEST_SKIP() << "MNIST not found at " << TRAIN_GPU_MNIST_DIR;
  std::ofstream(scratch_.path() / "a-file") << "x";
  const t::CommandResult result = train("--device cpu --data-dir " + t::shell_quote(TRAIN_GPU_MNIST_DIR) + " --run-dir " +
                                        t::shell_quote((scratch_.path() / "a-file" / "run").string()));
  expect_one_error_line(result, "cannot be created");
}

TEST_F(TrainCommandTest, MissingDataDirectoryIsOneLine) {
  expect_one_error_line(train("--device cpu --data-dir " + t::shell_quote((scratch_.path() / "nowhere").string())), "nowhere");
}

TEST_F(TrainCommandTest, HelpListsCommandsAndTrainingFlags) {
  const t::CommandResult result = train("--help");
  EXPECT_EQ(result.exit_code, 0);
  for (const char* word : {"inspect", "summary", "evaluate", "features", "--epochs", "--batch-size", "--lr", "--device",
                           "--resume", "--data-dir"}) {
    EXPECT_NE(result.out.find(word), std::string::npos) << word;
  }
}

TEST_F(TrainCommandTest, CommandHelpShowsOnlyThatCommandsOptions) {
  const t::CommandResult result = train("evaluate --help");
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.out.find("--checkpoint"), std::string::npos) << result.out;
  // --epochs belongs to train alone; seeing it here would mean train's help leaked in.
  EXPECT_EQ(result.out.find("--epochs"), std::string::npos) << result.out;
}

TEST_F(TrainCommandTest, VersionNamesTheBuildAndEndsItsLine) {
  const t::CommandResult result = train("--version");
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out.rfind("train_gpu ", 0), 0u) << result.out;
  EXPECT_NE(result.out.find("(commit "), std::string::npos) << result.out;
  const bool names_libraries =
      result.out.find("built against CUDA") != std::string::npos || result.out.find("CPU-only build") != std::string::npos;
  EXPECT_TRUE(names_libraries) << result.out;
  if (result.out.find("built against CUDA") != std::string::npos) {
    // What the machine actually loaded, for the device check (tools/device-check.sh); the driver
    // part reads "no NVIDIA driver" here.
    EXPECT_NE(result.out.find("\nloaded: CUDA runtime "), std::string::npos) << result.out;
    EXPECT_NE(result.out.find(", cuDNN "), std::string::npos) << result.out;
    EXPECT_NE(result.out.find(", cuBLAS "), std::string::npos) << result.out;
  }
  ASSERT_FALSE(result.out.empty());
  EXPECT_EQ(result.out.back(), '\n');  // a shell prompt must not land on the version line
}

}  // namespace
}  // namespace train_gpu
