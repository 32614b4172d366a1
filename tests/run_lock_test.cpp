// One training per run directory: the lock in-process, then two real train_gpu processes on one
// --run-dir, the second a fresh run and then a --resume of the live one, and a lock file that a
// dead process left behind.
#include "host/train/run_lock.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "host/train/checkpoint.h"
#include "host/train/metrics_log.h"
#include "host/train/run_directory.h"
#include "support/child_process.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;

bool has_mnist() { return fs::exists(fs::path(TRAIN_GPU_MNIST_DIR) / "t10k-labels-idx1-ubyte.gz"); }

// A pid that surely existed and is gone: a child that exited and was reaped.
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

TEST(RunLock, ASecondHolderIsRefusedNamingTheFirstsPid) {
  t::TempDir scratch;
  {
    const RunLock first(scratch.path());
    EXPECT_EQ(t::read_text(RunLock::file_in(scratch.path())), std::to_string(::getpid()) + "\n");
    // flock locks belong to open files, not processes, so a second open in this process conflicts
    // just as another process's would.
    const std::string error = t::error_of([&] { RunLock second(scratch.path()); });
    t::expect_contains(error, "run directory " + scratch.path().string() + " is in use by another training (pid " +
                                  std::to_string(::getpid()) + ",");
    t::expect_contains(error, "choose another --run-dir");
  }
  EXPECT_FALSE(fs::exists(RunLock::file_in(scratch.path()))) << "released and removed";
  EXPECT_NO_THROW(RunLock again(scratch.path()));
}

TEST(RunLock, ALockFileADeadProcessLeftIsTakenOver) {
  t::TempDir scratch;
  std::ofstream(RunLock::file_in(scratch.path())) << dead_pid() << "\n";
  const RunLock lock(scratch.path());
  EXPECT_EQ(t::read_text(RunLock::file_in(scratch.path())), std::to_string(::getpid()) + "\n");
}

TEST(RunLock, ASymlinkInPlaceOfTheLockFileIsNotFollowed) {
  t::TempDir scratch;
  const fs::path precious = scratch / "precious.txt";
  std::ofstream(precious) << "keep me";
  fs::create_directory(scratch / "run");
  fs::create_symlink(precious, RunLock::file_in(scratch / "run"));
  t::expect_contains(t::error_of([&] { RunLock lock(scratch / "run"); }), "cannot create its lock file");
  EXPECT_EQ(t::read_text(precious), "keep me");
}

TEST(RunLock, AnUnwritableDirectoryIsOneClearError) {
  t::TempDir scratch;
  t::expect_contains(t::error_of([&] { RunLock lock(scratch.path() / "missing"); }), "cannot create its lock file");
}

class RunLockProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!has_mnist()) GTEST_SKIP() << "MNIST not found at " << TRAIN_GPU_MNIST_DIR;
  }
  // Epochs of 640 images: each well under a second.
  static std::vector<std::string> flags(const std::string& seed, const std::string& epochs, std::vector<std::string> more) {
    std::vector<std::string> all{"--device", "cpu", "--data-dir", TRAIN_GPU_MNIST_DIR, "--limit-train", "640",
                                 "--limit-test", "200", "--epochs", epochs, "--seed", seed, "--no-progress"};
    all.insert(all.end(), more.begin(), more.end());
    return all;
  }

  // Every file under `dir` with its contents, to show that a refused run changed nothing.
  static std::map<std::string, std::string> contents_of(const fs::path& dir) {
    std::map<std::string, std::string> files;
    for (const fs::directory_entry& entry : fs::recursive_directory_iterator(dir)) {
      if (entry.is_regular_file()) files[fs::relative(entry.path(), dir).string()] = t::read_text(entry.path());
    }
    return files;
  }

  // Runs a second train_gpu on the run directory the first holds; it must be refused with one
  // line naming the first's pid, and leave every file there as it was.
  void expect_refused(const std::vector<std::string>& arguments, const std::string& name, const fs::path& run,
                      pid_t holder) {
    const std::map<std::string, std::string> before = contents_of(run);
    t::Child second(arguments, scratch_ / name);
    const std::optional<int> status = second.wait_until(t::Clock::now() + t::kDeadline);
    ASSERT_TRUE(status.has_value()) << name << " still running\n" << second.output();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) != 0) << t::describe_status(*status) << "\n" << second.output();
    const std::vector<std::string> lines = t::lines_of(second.err());
    ASSERT_EQ(lines.size(), 1u) << second.output();
    EXPECT_EQ(lines[0].rfind("train_gpu: error: run directory " + run.string() + " is in use by another training (pid " +
                                 std::to_string(holder) + ",",
                             0),
              0u)
        << lines[0];
    EXPECT_TRUE(contents_of(run) == before) << name << " changed files in the run directory it was refused";
  }

  t::TempDir scratch_;
};

// The probe: before the lock both runs exited 0, with metrics.csv rows interleaved, the
// first's event file deleted and its checkpoints overwritten with the second's seed. The first
// run stops itself at its final evaluation (TRAIN_GPU_TEST_STOP_AT), all epochs done and the lock
// held, so the second and third runs meet a live holder for certain, with no timing involved.
TEST_F(RunLockProcessTest, ASecondTrainingOrResumeOnALiveRunDirectoryIsRefused) {
  const fs::path run = scratch_ / "run";
  t::Child first(flags("1", "2", {"--run-dir", run.string()}), scratch_ / "first", {"TRAIN_GPU_TEST_STOP_AT=final-evaluation"});
  ASSERT_TRUE(first.wait_until_stopped(t::Clock::now() + t::kDeadline)) << "the first run never reached its final evaluation\n"
                                                                        << first.output();
  const fs::path lock_file = RunLock::file_in(run);
  EXPECT_TRUE(fs::exists(lock_file)) << "the first run holds no lock";
  if (fs::exists(lock_file)) {
    EXPECT_EQ(t::read_text(lock_file), std::to_string(first.pid()) + "\n");
  }

  ASSERT_NO_FATAL_FAILURE(expect_refused(flags("2", "2", {"--run-dir", run.string()}), "second", run, first.pid()));
  ASSERT_NO_FATAL_FAILURE(expect_refused(flags("1", "3", {"--resume", run.string()}), "resume", run, first.pid()));

  first.send(SIGCONT);
  const std::optional<int> status = first.wait_until(t::Clock::now() + t::kDeadline);
  ASSERT_TRUE(status.has_value()) << first.output();
  ASSERT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << t::describe_status(*status) << "\n" << first.output();

  // The first run's results are its own and whole: one row per epoch, its seed in every
  // checkpoint, one event file, the evaluation, and no lock file left.
  const std::vector<std::string> rows = t::lines_of(t::read_text(run / "metrics.csv"));
  ASSERT_EQ(rows.size(), 3u) << t::read_text(run / "metrics.csv");
  EXPECT_EQ(rows[0], kMetricsHeader);
  EXPECT_EQ(rows[1].rfind("1,", 0), 0u);
  EXPECT_EQ(rows[2].rfind("2,", 0), 0u);
  const std::vector<fs::path> checkpoints = checkpoints_in_training_order(run / "checkpoints");
  ASSERT_EQ(checkpoints.size(), 2u);
  for (const fs::path& file : checkpoints) EXPECT_EQ(load_checkpoint(file).metadata.seed, 1u) << file;
  int event_files = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(run / "train")) {
    event_files += entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0;
  }
  EXPECT_EQ(event_files, 1);
  EXPECT_TRUE(fs::exists(run / "evaluation" / "evaluation.json"));
  EXPECT_FALSE(fs::exists(lock_file));
}

// flock dies with its holder, so what a SIGKILLed run leaves is a file with a dead pid: the next
// run on the directory must go ahead.
TEST_F(RunLockProcessTest, ALockFileOfADeadProcessDoesNotBlockATraining) {
  const fs::path run = scratch_ / "run";
  fs::create_directories(run);
  std::ofstream(RunLock::file_in(run)) << dead_pid() << "\n";
  t::Child training(flags("1", "1", {"--run-dir", run.string()}), scratch_ / "training");
  const std::optional<int> status = training.wait_until(t::Clock::now() + t::kDeadline);
  ASSERT_TRUE(status.has_value()) << training.output();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << t::describe_status(*status) << "\n" << training.output();
  EXPECT_TRUE(fs::exists(checkpoint_path(run, 1)));
  EXPECT_FALSE(fs::exists(RunLock::file_in(run)));
}

}  // namespace
}  // namespace train_gpu
