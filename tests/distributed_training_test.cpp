// Data-parallel training on CPU ranks (host/distributed/), as a user launches it: `mpirun -np N
// train_gpu --device cpu ...` against one process with the same options. The ranks together
// train the batches one process trains, so parameters and metrics agree up to float summation
// order; one set of files is written; resume works on another rank count; a killed or hung rank
// ends the job within a bound; mismatched options are refused; SIGTERM stops every rank after
// the same step with one checkpoint. Skips, saying why, where mpirun or MPI support is missing.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "host/train/checkpoint.h"
#include "support/child_process.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;
using Clock = std::chrono::steady_clock;

// mpirun's absolute path from PATH, or "" when it is not installed.
std::string mpirun_path() {
  const char* path = std::getenv("PATH");
  std::stringstream directories(path == nullptr ? "" : path);
  for (std::string directory; std::getline(directories, directory, ':');) {
    const fs::path candidate = fs::path(directory) / "mpirun";
    if (!directory.empty() && ::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

// mpirun's options for a test on one small machine: as many ranks as asked whatever the core
// count, no binding (3 ranks share 2 cores), shared memory only (no network probing), root
// allowed (CI containers run as root), no CMA single copy (containers forbid ptrace). With
// `graceful_stop`: Open MPI's mpirun passes a SIGTERM on to the ranks odls_base_sigkill_timeout
// seconds after it gets one, and SIGKILLs them as long again after that (observed: 1 s and 1 s
// by default); 5 s leaves a stopping rank time for its checkpoint on two busy cores (mpirun
// waits as long after any rank's end too, so only the SIGTERM test asks for it). Under the asan preset, LeakSanitizer would count Open MPI's own
// allocations, which outlive MPI_Finalize: leak checks are off in the ranks.
std::vector<std::string> mpirun_options(int ranks, bool graceful_stop = false) {
  std::vector<std::string> options{"--oversubscribe", "--bind-to", "none", "-np", std::to_string(ranks),
                                   "--mca", "btl", "self,vader", "--mca", "btl_vader_single_copy_mechanism", "none",
                                   "-x", "LSAN_OPTIONS=detect_leaks=0"};
  if (graceful_stop) options.insert(options.end(), {"--mca", "odls_base_sigkill_timeout", "5"});
  if (::geteuid() == 0) options.insert(options.begin(), "--allow-run-as-root");
  return options;
}

std::string joined(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) text += (text.empty() ? "" : " ") + t::shell_quote(word);
  return text;
}

// Every file under `directory`, relative, sorted.
std::set<std::string> files_under(const fs::path& directory) {
  std::set<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(directory)) {
    if (entry.is_regular_file()) files.insert(fs::relative(entry.path(), directory).string());
  }
  return files;
}

// The last data row of metrics.csv: train_loss, train_accuracy, test_loss, test_accuracy.
std::vector<double> last_metrics(const fs::path& run_dir) {
  std::ifstream in(run_dir / "metrics.csv");
  std::string line, last;
  while (std::getline(in, line)) last = line;
  std::vector<double> values;
  std::stringstream fields(last);
  std::string field;
  std::getline(fields, field, ',');  // epoch
  for (int i = 0; i < 4 && std::getline(fields, field, ','); ++i) values.push_back(std::stod(field));
  return values;
}

// True once process `pid` has ended (gone, or a zombie left to init to reap) by `deadline`.
bool ended_by(pid_t pid, Clock::time_point deadline) {
  const fs::path stat = fs::path("/proc") / std::to_string(pid) / "stat";
  while (Clock::now() < deadline) {
    std::ifstream in(stat);
    std::string number, comm, state;
    if (!(in >> number >> comm >> state) || state == "Z") return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::vector<float> parameters_of(const fs::path& checkpoint) { return load_checkpoint(checkpoint).state.parameters; }

// Parameters trained by N ranks against one process. The gradient of a weight sums per-sample
// terms; one process adds a batch's samples in one order, the ranks add their slices' partial
// sums and then MPI adds those. Float32 sums of n terms in two orders differ by at most about
// n * 2^-24 of the sum of the terms' magnitudes, in practice sqrt(n) * 2^-24 (the conv weights'
// n = 64 samples x 676 positions: ~1.5e-5 relative). SGD at lr 0.05 moves a parameter by
// lr * g per step, so over the ~8 steps of these runs a difference grows to about
// 8 * 0.05 * 1.5e-5 * |g| < 1e-5 for |g| < 1, and the network's feedback (later steps see
// slightly different weights) may multiply that by a few. 1e-4 absolute + 1e-3 relative keeps a
// wide margin, and still fails the bugs this guards against: a gradient scaled by the local
// instead of the global batch (a factor 2 or 3), a rank's slice dropped or counted twice, which
// move parameters by lr * |g| ~ 1e-2 at the first step.
::testing::AssertionResult parameters_close(const std::vector<float>& actual, const std::vector<float>& reference) {
  if (actual.size() != reference.size()) return ::testing::AssertionFailure() << actual.size() << " vs " << reference.size() << " parameters";
  std::size_t bad = 0;
  double largest = 0;
  ::testing::AssertionResult failure = ::testing::AssertionFailure();
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double difference = std::fabs(double(actual[i]) - double(reference[i]));
    largest = std::max(largest, difference);
    if (!(difference <= 1e-4 + 1e-3 * std::fabs(double(reference[i])))) {
      if (bad < 5) failure << "[" << i << "] " << actual[i] << " vs " << reference[i] << "; ";
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess() << "largest difference " << largest;
  return failure << bad << " of " << actual.size() << " parameters differ; largest difference " << largest;
}

class DistributedTrainingTest : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef TRAIN_GPU_HAVE_MPI
    GTEST_SKIP() << "train_gpu was built without MPI (install libopenmpi-dev: tools/install-deps.sh)";
#endif
    mpirun_ = mpirun_path();
    if (mpirun_.empty()) GTEST_SKIP() << "mpirun not found on PATH (install openmpi-bin: tools/install-deps.sh)";
    if (!fs::exists(fs::path(TRAIN_GPU_MNIST_DIR) / "train-labels-idx1-ubyte.gz")) {
      GTEST_SKIP() << "MNIST not found at " << TRAIN_GPU_MNIST_DIR;
    }
  }

  // One thread per rank on these 2 cores; no TensorBoard (its files are rank 0's like the rest,
  // and tested elsewhere); SGD, whose step is proportional to the gradient (Adam's is nearly
  // scale-free and would hide a wrong gradient scale).
  std::vector<std::string> training(const fs::path& run, const std::string& extra) const {
    std::vector<std::string> arguments{"--device", "cpu", "--threads", "1", "--data-dir", TRAIN_GPU_MNIST_DIR,
                                       "--limit-test", "200", "--no-tensorboard", "--seed", "7", "--optimizer", "sgd",
                                       "--lr", "0.05", "--run-dir", run.string()};
    std::stringstream words(extra);
    for (std::string word; words >> word;) arguments.push_back(word);
    return arguments;
  }

  // `ranks` == 0: one process without mpirun.
  t::CommandResult train(int ranks, const fs::path& run, const std::string& extra) {
    const std::string binary = t::shell_quote(TRAIN_GPU_BINARY);
    const std::string command = ranks == 0 ? binary + " " + joined(training(run, extra))
                                           : t::shell_quote(mpirun_) + " " + joined(mpirun_options(ranks)) + " " +
                                                 binary + " " + joined(training(run, extra));
    return t::run_command(command, scratch_.path());
  }

  // The job as a child process, for tests that signal it.
  std::unique_ptr<t::Child> start_job(int ranks, const fs::path& run, const std::string& extra, bool graceful_stop = false) {
    std::vector<std::string> arguments = mpirun_options(ranks, graceful_stop);
    arguments.push_back(TRAIN_GPU_BINARY);
    for (const std::string& argument : training(run, extra)) arguments.push_back(argument);
    return std::make_unique<t::Child>(arguments, scratch_.path() / "job", std::vector<std::string>{}, mpirun_);
  }

  // Once rank 0 has written config.json every rank has joined and agreed on the options; returns
  // the ranks' pids in rank order (mpirun's train_gpu children).
  static std::vector<pid_t> wait_for_ranks(t::Child& job, const fs::path& run, int ranks) {
    const Clock::time_point deadline = Clock::now() + t::kDeadline;
    while (!fs::exists(run / "config.json") && job.running() && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::vector<pid_t> pids(std::size_t(ranks), -1);
    for (const auto& entry : fs::directory_iterator("/proc")) {
      const std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream stat(entry.path() / "stat");
      std::string pid, comm, state;
      pid_t parent = 0;
      if (!(stat >> pid >> comm >> state >> parent) || parent != job.pid() || comm != "(train_gpu)") continue;
      std::ifstream environ_file(entry.path() / "environ");
      std::string variable;
      while (std::getline(environ_file, variable, '\0')) {
        if (variable.rfind("OMPI_COMM_WORLD_RANK=", 0) == 0) {
          const int rank = std::stoi(variable.substr(21));
          if (rank >= 0 && rank < ranks) pids[std::size_t(rank)] = std::stoi(name);
        }
      }
    }
    return pids;
  }

  std::string mpirun_;
  t::TempDir scratch_;
};

TEST_F(DistributedTrainingTest, TwoAndThreeRanksTrainAsOneProcessWithOneSetOfFiles) {
  // 500 images in batches of 64: 7 full batches and a last one of 52; 64 over 3 ranks is 21+21+22.
  const std::string options = "--epochs 1 --limit-train 500";
  const fs::path single = scratch_.path() / "single";
  const t::CommandResult one = train(0, single, options);
  ASSERT_EQ(one.exit_code, 0) << one.out << one.err;
  const std::vector<float> reference = parameters_of(single / "checkpoints" / "epoch-001.safetensors");
  const std::vector<double> reference_metrics = last_metrics(single);
  ASSERT_EQ(reference_metrics.size(), 4u);

  for (const int ranks : {2, 3}) {
    SCOPED_TRACE(std::to_string(ranks) + " ranks");
    const fs::path run = scratch_.path() / ("ranks" + std::to_string(ranks));
    const t::CommandResult job = train(ranks, run, options);
    ASSERT_EQ(job.exit_code, 0) << job.out << job.err;
    EXPECT_TRUE(parameters_close(parameters_of(run / "checkpoints" / "epoch-001.safetensors"), reference));
    // The same files, each written once: a second writer would have failed on the run lock.
    EXPECT_EQ(files_under(run), files_under(single));
    // Only rank 0 prints: one epoch line, one device line naming the world.
    const std::vector<std::string> lines = t::lines_of(job.out);
    EXPECT_EQ(std::count_if(lines.begin(), lines.end(), [](const std::string& line) { return line.rfind("epoch 1/1", 0) == 0; }), 1)
        << job.out;
    EXPECT_NE(job.out.find("rank 0 of " + std::to_string(ranks)), std::string::npos) << job.out;
    EXPECT_EQ(job.out.find("rank 1 of"), std::string::npos) << job.out;
    // Losses are sums of the same per-sample losses in another order (double sums of float
    // losses: ~1e-7 relative) on parameters within the tolerance above: 1e-4 relative covers
    // both. Accuracies count predictions, which only a near-tie could flip: at most one of the
    // 500 training or 200 test images.
    const std::vector<double> metrics = last_metrics(run);
    ASSERT_EQ(metrics.size(), 4u);
    EXPECT_NEAR(metrics[0], reference_metrics[0], 1e-4 * reference_metrics[0]) << "train loss";
    EXPECT_NEAR(metrics[1], reference_metrics[1], 1.0 / 500 + 1e-9) << "train accuracy";
    EXPECT_NEAR(metrics[2], reference_metrics[2], 1e-4 * reference_metrics[2]) << "test loss";
    EXPECT_NEAR(metrics[3], reference_metrics[3], 1.0 / 200 + 1e-9) << "test accuracy";
  }
}

// Batches of 2 over 3 ranks: every step one rank has no sample and must still take part.
TEST_F(DistributedTrainingTest, BatchesSmallerThanTheWorldTrainAsOneProcess) {
  const std::string options = "--epochs 1 --limit-train 11 --batch-size 2";
  const fs::path single = scratch_.path() / "single";
  const t::CommandResult one = train(0, single, options);
  ASSERT_EQ(one.exit_code, 0) << one.out << one.err;
  const fs::path run = scratch_.path() / "ranks3";
  const t::CommandResult job = train(3, run, options);
  ASSERT_EQ(job.exit_code, 0) << job.out << job.err;
  EXPECT_TRUE(parameters_close(parameters_of(run / "checkpoints" / "epoch-001.safetensors"),
                               parameters_of(single / "checkpoints" / "epoch-001.safetensors")));
}

// The global batch fixes the batches, not the rank count: 2 ranks for epoch 1, then 3 ranks
// resuming for epoch 2, train what one process trains in 2 epochs.
TEST_F(DistributedTrainingTest, AResumeOnAnotherRankCountContinuesTheSameBatches) {
  const fs::path single = scratch_.path() / "single";
  const t::CommandResult one = train(0, single, "--epochs 2 --limit-train 300");
  ASSERT_EQ(one.exit_code, 0) << one.out << one.err;
  const fs::path run = scratch_.path() / "ranks";
  const t::CommandResult first = train(2, run, "--epochs 1 --limit-train 300");
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  const t::CommandResult second = train(3, run, "--epochs 2 --limit-train 300 --resume " + run.string());
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_NE(second.out.find("resumed from"), std::string::npos) << second.out;
  EXPECT_TRUE(parameters_close(parameters_of(run / "checkpoints" / "epoch-002.safetensors"),
                               parameters_of(single / "checkpoints" / "epoch-002.safetensors")));
}

TEST_F(DistributedTrainingTest, RanksStartedWithOtherOptionsAreRefused) {
  const fs::path run = scratch_.path() / "run";
  std::vector<std::string> other = training(run, "--epochs 1 --limit-train 100");
  *(std::find(other.begin(), other.end(), "--seed") + 1) = "8";
  // MPMD: rank 0 and rank 1 from two command lines that differ in --seed (mpirun's own options
  // come once, before the first).
  const std::string binary = t::shell_quote(TRAIN_GPU_BINARY);
  const std::string command = t::shell_quote(mpirun_) + " " + joined(mpirun_options(1)) + " " + binary + " " +
                              joined(training(run, "--epochs 1 --limit-train 100")) + " : -np 1 " + binary + " " +
                              joined(other);
  const Clock::time_point start = Clock::now();
  const t::CommandResult job = t::run_command(command, scratch_.path());
  EXPECT_NE(job.exit_code, 0);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(120));
  EXPECT_NE(job.err.find("train_gpu: error: rank 0 of 2: rank 1 of 2 was started with other options than rank 0"),
            std::string::npos)
      << job.err;
  EXPECT_FALSE(fs::exists(run / "metrics.csv")) << "nothing was trained";
}

// Within a bound: mpirun notices a rank that dies and ends the others (the bound is far above
// the few seconds it takes, and far below a hang).
TEST_F(DistributedTrainingTest, AKilledRankEndsTheJobWithAnError) {
  const fs::path run = scratch_.path() / "run";
  // mpirun answers a rank's death with SIGTERM to the others, and SIGKILL a second later.
  const std::unique_ptr<t::Child> job = start_job(2, run, "--epochs 1000 --limit-train 2000");
  const std::vector<pid_t> ranks = wait_for_ranks(*job, run, 2);
  ASSERT_GT(ranks[1], 0) << job->output();
  ASSERT_EQ(::kill(ranks[1], SIGKILL), 0);
  const Clock::time_point killed = Clock::now();
  const std::optional<int> status = job->wait_until(killed + std::chrono::seconds(60));
  ASSERT_TRUE(status.has_value()) << "the job did not end within 60 s of a rank's death\n" << job->output();
  EXPECT_NE(t::exit_code_of(*status), 0) << job->output();
  EXPECT_NE(job->err().find("signal 9"), std::string::npos) << job->output();
  EXPECT_TRUE(ended_by(ranks[0], Clock::now() + std::chrono::seconds(10))) << "rank 0 outlived the job";
}

// A rank that hangs (stopped) answers nothing; the others give up after --dist-timeout.
TEST_F(DistributedTrainingTest, AHungRankEndsTheJobAfterTheTimeout) {
  const fs::path run = scratch_.path() / "run";
  const std::unique_ptr<t::Child> job = start_job(2, run, "--epochs 1000 --limit-train 2000 --dist-timeout 3");
  const std::vector<pid_t> ranks = wait_for_ranks(*job, run, 2);
  ASSERT_GT(ranks[1], 0) << job->output();
  ASSERT_EQ(::kill(ranks[1], SIGSTOP), 0);
  // 3 s plus the watchdog's look every 0.3 s; 60 s is only a bound for a hang.
  const std::optional<int> status = job->wait_until(Clock::now() + std::chrono::seconds(60));
  ::kill(ranks[1], SIGKILL);  // in case mpirun left it stopped
  ASSERT_TRUE(status.has_value()) << "the job did not end within 60 s of a rank hanging\n" << job->output();
  EXPECT_NE(t::exit_code_of(*status), 0) << job->output();
  EXPECT_NE(job->err().find("train_gpu: error: rank 0 of 2 waited 3 s in "), std::string::npos) << job->output();
  EXPECT_NE(job->err().find("one of them died or hangs (--dist-timeout 3)"), std::string::npos) << job->output();
}

// mpirun forwards SIGTERM to every rank; they agree at the next step, so rank 0's checkpoint is
// the job's one, and no rank is left waiting for another (the job ends, with the stop's status).
TEST_F(DistributedTrainingTest, SigtermToMpirunStopsEveryRankAfterTheSameStepWithOneCheckpoint) {
  const fs::path run = scratch_.path() / "run";
  // Far more epochs than the 5 s before mpirun passes the signal on can take, in epochs short
  // enough that finishing the stopped one is quick under the sanitizers too. Which epoch the
  // signal lands in depends on the machine's speed: the stop line says, and the files must agree.
  const std::unique_ptr<t::Child> job = start_job(2, run, "--epochs 100 --limit-train 12800", true);
  const std::vector<pid_t> ranks = wait_for_ranks(*job, run, 2);
  ASSERT_GT(ranks[1], 0) << job->output();
  job->send(SIGTERM);
  const std::optional<int> status = job->wait_until(Clock::now() + t::kDeadline);
  ASSERT_TRUE(status.has_value()) << job->output();
  EXPECT_NE(t::exit_code_of(*status), 0) << job->output();

  const std::string stopped = "stopped by SIGTERM at epoch ";
  const std::vector<std::string> lines = t::lines_of(job->out());
  std::vector<std::string> stop_lines;
  std::copy_if(lines.begin(), lines.end(), std::back_inserter(stop_lines),
               [&](const std::string& line) { return line.rfind(stopped, 0) == 0; });
  ASSERT_EQ(stop_lines.size(), 1u) << job->output();
  const int epoch = std::stoi(stop_lines[0].substr(stopped.size()));
  ASSERT_GE(epoch, 1) << stop_lines[0];
  ASSERT_LT(epoch, 100) << "the signal came after the last epoch: " << stop_lines[0];

  // One mid-epoch checkpoint, of the stopped epoch; the others are ends of the epochs before it.
  char mid_epoch[32];
  std::snprintf(mid_epoch, sizeof mid_epoch, "epoch-%03d-batch-", epoch);
  int mid_epoch_files = 0;
  for (const std::string& file : files_under(run / "checkpoints")) {
    if (file.find("-batch-") != std::string::npos) {
      ++mid_epoch_files;
      EXPECT_EQ(file.rfind(mid_epoch, 0), 0u) << file << " beside " << stop_lines[0];
    } else {
      int ended = 0;
      EXPECT_EQ(std::sscanf(file.c_str(), "epoch-%d.safetensors", &ended), 1) << file;
      EXPECT_LT(ended, epoch) << file << " beside " << stop_lines[0];
    }
  }
  EXPECT_EQ(mid_epoch_files, 1) << job->output();
  // The checkpoint resumes: one process finishes the stopped epoch from it.
  const t::CommandResult resumed = train(0, run, "--epochs " + std::to_string(epoch) + " --resume " + run.string());
  EXPECT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
}

}  // namespace
}  // namespace train_gpu
