// The real binary stopped the ways it is stopped in practice: SIGKILL at an arbitrary moment (the
// OOM killer, a preempted node, `docker kill`), SIGTERM (`docker stop`, a scheduler's time limit)
// and SIGINT (Ctrl-C). trainer_test.cpp covers the orchestrator's resume arithmetic in-process;
// this file checks what only a separate process shows: the signal handlers, the exit codes, the
// files on disk after an abrupt death, and the `--resume` command line the stop message asks for.
//
// Every child is started with posix_spawn (no shell between us and the pid we signal) and owned
// by a guard that kills and reaps it, so a failed assertion never leaves a training running.
// Every wait has a deadline far above the seconds each step takes, so a hang fails instead of
// blocking ctest.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <sstream>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "host/train/checkpoint.h"
#include "host/train/metrics_log.h"
#include "host/train/run_directory.h"
#include "support/child_process.h"
#include "support/metrics_columns.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;
using t::Child;
using t::Clock;
using t::describe_status;
using t::kDeadline;
using t::kPollInterval;

bool has_mnist() { return fs::exists(fs::path(TRAIN_GPU_MNIST_DIR) / "t10k-labels-idx1-ubyte.gz"); }

bool is_checkpoint_name(const std::string& name) {
  return name.rfind("epoch-", 0) == 0 && fs::path(name).extension() == ".safetensors";
}
// The atomic writer's temporary for a checkpoint: ".epoch-002.safetensors.tmp-<pid>-<n>".
bool is_checkpoint_temporary(const std::string& name) {
  return name.rfind(".epoch-", 0) == 0 && name.find(".safetensors.tmp-") != std::string::npos;
}

// Checkpoint files as the trainer names them (epoch-*.safetensors), sorted by name, independently
// of the parser --resume uses: for the few epochs (< 1000) these runs train, the zero-padded names
// sort in training order.
std::vector<fs::path> checkpoint_files(const fs::path& run_dir) {
  std::vector<fs::path> files;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(run_dir / "checkpoints", error)) {
    if (is_checkpoint_name(entry.path().filename().string())) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Waits until the run has published its first checkpoint (the rename makes it appear whole) and
// returns it; empty when the child exited first or the deadline passed (the caller fails).
fs::path wait_for_first_checkpoint(Child& child, const fs::path& run_dir) {
  const Clock::time_point deadline = Clock::now() + kDeadline;
  while (Clock::now() < deadline) {
    const std::vector<fs::path> files = checkpoint_files(run_dir);
    if (!files.empty()) return files.front();
    if (!child.running()) return {};
    std::this_thread::sleep_for(kPollInterval);
  }
  return {};
}

// Waits until `file` exists; false when the child exited first or the deadline passed.
bool wait_for_file(Child& child, const fs::path& file) {
  const Clock::time_point deadline = Clock::now() + kDeadline;
  while (Clock::now() < deadline) {
    if (fs::exists(file)) return true;
    if (!child.running()) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
  return false;
}

std::optional<Checkpoint> load_or_fail(const fs::path& file) {
  try {
    return load_checkpoint(file);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "checkpoint does not load: " << e.what();
    return std::nullopt;
  }
}

// Bit-for-bit, not ==: float == would call -0 and +0 equal and NaN unequal to itself.
::testing::AssertionResult same_bits(const std::vector<float>& expected, const std::vector<float>& actual) {
  if (expected.size() != actual.size()) {
    return ::testing::AssertionFailure() << "sizes differ: " << expected.size() << " vs " << actual.size();
  }
  for (size_t i = 0; i < expected.size(); ++i) {
    if (std::memcmp(&expected[i], &actual[i], sizeof(float)) != 0) {
      return ::testing::AssertionFailure() << "first difference at arena index " << i << ": " << expected[i] << " vs "
                                           << actual[i];
    }
  }
  return ::testing::AssertionSuccess();
}

// metrics.csv's rows without epoch_seconds and samples_per_second, which differ between any two
// runs, and resumed_at_batch, which says what they cover; the header is checked so that cutting
// columns 6-8 (1-based) cuts exactly those.
std::vector<std::string> metrics_without_timing(const fs::path& run_dir) {
  std::ifstream in(run_dir / "metrics.csv");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, kMetricsHeader) << "in " << (run_dir / "metrics.csv");
  std::vector<std::string> rows;
  while (std::getline(in, line)) {
    rows.push_back(t::without_timing_columns(line));
  }
  return rows;
}

// The path after "checkpoint written to " in the stop message, up to the end of that line.
fs::path stop_checkpoint_named_in(const std::string& out) {
  const std::string marker = "checkpoint written to ";
  const size_t start = out.find(marker);
  if (start == std::string::npos) return {};
  const size_t begin = start + marker.size();
  return out.substr(begin, out.find('\n', begin) - begin);
}

class StopAndResumeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!has_mnist()) GTEST_SKIP() << "MNIST not found at " << TRAIN_GPU_MNIST_DIR;
  }

  // Flags every run of a scenario shares; the limits keep each epoch well under a second.
  static std::vector<std::string> common_flags(int64_t limit_train, int64_t limit_test, int64_t epochs) {
    return {"--device", "cpu", "--data-dir", TRAIN_GPU_MNIST_DIR, "--limit-train", std::to_string(limit_train),
            "--limit-test", std::to_string(limit_test), "--epochs", std::to_string(epochs), "--no-progress"};
  }
  static std::vector<std::string> with(std::vector<std::string> flags, std::initializer_list<std::string> more) {
    flags.insert(flags.end(), more.begin(), more.end());
    return flags;
  }

  // Runs train_gpu to its end and returns the wait status (a failed deadline fails the test).
  int run_to_end(const std::vector<std::string>& arguments, const std::string& name, std::string* output = nullptr) {
    Child child(arguments, scratch_.path() / name);
    const std::optional<int> status = child.wait_until(Clock::now() + kDeadline);
    if (output) *output = child.output();
    EXPECT_TRUE(status.has_value()) << name << " still running after " << kDeadline.count() << " s\n" << child.output();
    return status.value_or(-1);
  }

  t::TempDir scratch_;
};

// SIGKILL gives the process no chance to react, so whatever is on disk at that instant is what a
// user resumes from. The atomic writer promises that every epoch-*.safetensors is whole at every
// instant. Each scenario kills a run, then checks everything in checkpoints/, runs `evaluate` on
// the newest checkpoint and resumes training from it for one more epoch.
class SigkillTest : public StopAndResumeTest {
 protected:
  // 640 images: 10 batches of 64, so an epoch plus its test pass and save takes ~0.2 s and a
  // 0-400 ms window spans training steps, test passes, metrics appends and checkpoint writes.
  static constexpr int64_t kLimitTrain = 640;
  static constexpr int64_t kLimitTest = 200;
  // 50 epochs cannot finish before any kill here, so the kill always lands mid-run.
  static constexpr int64_t kEpochs = 50;

  // The run is killed a seeded random 0..max_delay_ms after its first checkpoint appears. Sets
  // *left_temporary when the kill left one of the writer's temporaries behind.
  void kill_at_random_moment(uint32_t seed, int max_delay_ms, bool* left_temporary) {
    std::mt19937 random(seed);
    const std::chrono::milliseconds delay{std::uniform_int_distribution<int>(0, max_delay_ms)(random)};
    const std::string name = "kill-" + std::to_string(seed);
    const fs::path run = scratch_.path() / name;
    {
      Child child(with(common_flags(kLimitTrain, kLimitTest, kEpochs), {"--seed", std::to_string(seed), "--run-dir", run.string()}),
                  scratch_.path() / name);
      const fs::path first = wait_for_first_checkpoint(child, run);
      ASSERT_FALSE(first.empty()) << "no checkpoint appeared in " << run << "\n" << child.output();
      std::this_thread::sleep_for(delay);  // the random moment itself: the one sleep that is the point
      ASSERT_NO_FATAL_FAILURE(kill_and_reap(child));
    }
    std::string resumed_output;
    expect_recoverable_after_kill(run, name, left_temporary, &resumed_output);
  }

  static void kill_and_reap(Child& child) {
    child.send(SIGKILL);
    const std::optional<int> status = child.wait_until(Clock::now() + kDeadline);
    ASSERT_TRUE(status.has_value()) << "not reaped after SIGKILL";
    ASSERT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL)
        << "the run ended before the kill (" << describe_status(*status) << "); the test killed nothing\n" << child.output();
  }

  // What a user relies on after a SIGKILL of the run in `run`: every checkpoint loads, the newest
  // is what --resume picks and `evaluate` accepts, and training resumes from it for one more epoch.
  // Sets *left_temporary when the kill left one of the writer's temporaries behind, and
  // *resumed_output to what the resumed run printed.
  void expect_recoverable_after_kill(const fs::path& run, const std::string& name, bool* left_temporary,
                                     std::string* resumed_output) {
    // Every checkpoint file loads (header, shapes, checksum). Anything else in the directory must
    // be one of the writer's hidden temporaries, which a kill mid-save leaves behind.
    const std::vector<fs::path> checkpoints = checkpoint_files(run);
    ASSERT_FALSE(checkpoints.empty());
    for (const fs::path& file : checkpoints) {
      SCOPED_TRACE(file.string());
      load_or_fail(file);
    }
    *left_temporary = false;
    for (const fs::directory_entry& entry : fs::directory_iterator(run / "checkpoints")) {
      const std::string file_name = entry.path().filename().string();
      if (is_checkpoint_name(file_name)) continue;
      EXPECT_TRUE(is_checkpoint_temporary(file_name)) << "unexpected file in checkpoints/: " << file_name;
      *left_temporary = true;
    }

    // What --resume picks is a real checkpoint, not a temporary, and `evaluate` accepts it.
    fs::path newest;
    ASSERT_NO_THROW(newest = resolve_resume_source(run));
    EXPECT_EQ(newest, checkpoints.back());
    const std::optional<Checkpoint> newest_checkpoint = load_or_fail(newest);
    ASSERT_TRUE(newest_checkpoint.has_value());
    const t::CommandResult evaluated = t::run_command(
        t::shell_quote(TRAIN_GPU_BINARY) + " evaluate --checkpoint " + t::shell_quote(newest.string()) +
            " --device cpu --data-dir " + t::shell_quote(TRAIN_GPU_MNIST_DIR) + " --limit-test 500",
        scratch_.path());
    EXPECT_EQ(evaluated.exit_code, 0) << evaluated.out << evaluated.err;

    // Training continues from it for one more epoch: leftover temporaries and whatever the killed
    // run appended to metrics.csv after its newest checkpoint must not get in the way, and
    // metrics.csv must end with exactly one row per epoch, 1..E+1.
    const int64_t resumed_epochs = newest_checkpoint->metadata.epoch + 1;
    const int status = run_to_end(with(common_flags(kLimitTrain, kLimitTest, resumed_epochs), {"--resume", run.string()}),
                                  "resume-" + name, resumed_output);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe_status(status) << "\n" << *resumed_output;
    EXPECT_NE(resumed_output->find("resumed from " + newest.string()), std::string::npos) << *resumed_output;
    const std::vector<std::string> rows = metrics_without_timing(run);
    ASSERT_EQ(rows.size(), static_cast<size_t>(resumed_epochs)) << t::read_text(run / "metrics.csv");
    for (int64_t epoch = 1; epoch <= resumed_epochs; ++epoch) {
      const std::string& row = rows[static_cast<size_t>(epoch - 1)];
      EXPECT_EQ(row.substr(0, row.find(',')), std::to_string(epoch)) << t::read_text(run / "metrics.csv");
    }
  }
};

TEST_F(SigkillTest, AtRandomMomentsAlwaysLeavesLoadableCheckpoints) {
  int temporaries = 0;
  for (const uint32_t seed : {1u, 2u, 3u, 4u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    bool left_temporary = false;
    ASSERT_NO_FATAL_FAILURE(kill_at_random_moment(seed, 400, &left_temporary));
    temporaries += left_temporary;
  }
  std::cout << "[          ] " << temporaries << " of 4 kills left a half-written temporary\n";
}

// Saving is only a small part of each epoch, so random moments rarely land inside one. Here the
// writer's test-only pause point (TRAIN_GPU_TEST_PAUSE_WRITING, host/train/atomic_file.h) holds
// the save of epoch-002 with half of its bytes in the temporary, and the kill lands there for
// certain: epoch-001 must still load and be what --resume picks, and the resumed run must clear
// the half-written temporary away and write epoch-002 whole.
TEST_F(SigkillTest, DuringACheckpointWriteLeavesTheEarlierCheckpointsLoadable) {
  const std::string name = "kill-in-save";
  const fs::path run = scratch_.path() / name;
  const fs::path checkpoints = run / "checkpoints";
  const fs::path marker = scratch_.path() / "paused-in-save";
  fs::path temporary;
  {
    Child child(with(common_flags(kLimitTrain, kLimitTest, kEpochs), {"--run-dir", run.string()}), scratch_.path() / name,
                {"TRAIN_GPU_TEST_PAUSE_WRITING=epoch-002.safetensors:" + marker.string()});
    ASSERT_TRUE(wait_for_file(child, marker)) << "the save of epoch-002 never reached the pause point\n" << child.output();
    const std::string marker_text = t::read_text(marker);
    ASSERT_FALSE(marker_text.empty());
    temporary = marker_text.substr(0, marker_text.size() - 1);  // without its newline

    // The moment of the kill is inside the write: the temporary holds half a checkpoint (the
    // headers of epoch 1 and 2 differ by a few bytes at most) and epoch-002 is not published.
    EXPECT_EQ(temporary.parent_path(), checkpoints);
    EXPECT_TRUE(is_checkpoint_temporary(temporary.filename().string())) << temporary;
    ASSERT_TRUE(fs::exists(temporary)) << temporary;
    const auto whole = static_cast<double>(fs::file_size(checkpoints / "epoch-001.safetensors"));
    EXPECT_NEAR(static_cast<double>(fs::file_size(temporary)), whole / 2, 64);
    EXPECT_FALSE(fs::exists(checkpoints / "epoch-002.safetensors"));
    ASSERT_NO_FATAL_FAILURE(kill_and_reap(child));
  }
  EXPECT_EQ(checkpoint_files(run), std::vector<fs::path>{checkpoints / "epoch-001.safetensors"});
  EXPECT_TRUE(fs::exists(temporary)) << "SIGKILL leaves the temporary; the next run removes it";

  bool left_temporary = false;
  std::string resumed_output;
  ASSERT_NO_FATAL_FAILURE(expect_recoverable_after_kill(run, name, &left_temporary, &resumed_output));
  EXPECT_TRUE(left_temporary);
  EXPECT_NE(resumed_output.find("resumed from " + (checkpoints / "epoch-001.safetensors").string()), std::string::npos)
      << resumed_output;
  EXPECT_NE(resumed_output.find("removed 1 unfinished file(s)"), std::string::npos) << resumed_output;
  EXPECT_FALSE(fs::exists(temporary));
  EXPECT_EQ(checkpoint_files(run),
            (std::vector<fs::path>{checkpoints / "epoch-001.safetensors", checkpoints / "epoch-002.safetensors"}));
}

// `docker stop` sends SIGTERM: the run must finish its step, write a checkpoint, exit 143 and say
// how to resume; resuming must then give exactly what an uninterrupted run gives. Bit-for-bit is
// the right tolerance: the same batches in the same order through the same deterministic CPU
// math, and the checkpoint stores every float and Adam's step exactly.
TEST_F(StopAndResumeTest, SigtermThenResumeEqualsAnUninterruptedRunBitForBit) {
  // 2000 images: 32 batches per epoch, about half a second, so a SIGTERM sent the moment the
  // first checkpoint appears almost always lands early in epoch 2 (the mid-epoch path); landing
  // at the boundary instead is also a correct stop and is compared the same way.
  const std::vector<std::string> flags = with(common_flags(2000, 500, 3), {"--seed", "7"});
  const fs::path whole = scratch_.path() / "whole";
  const fs::path split = scratch_.path() / "split";

  std::string whole_output;
  const int whole_status = run_to_end(with(flags, {"--run-dir", whole.string()}), "whole", &whole_output);
  ASSERT_TRUE(WIFEXITED(whole_status) && WEXITSTATUS(whole_status) == 0) << describe_status(whole_status) << "\n" << whole_output;

  fs::path stop_checkpoint;
  {
    Child child(with(flags, {"--run-dir", split.string()}), scratch_.path() / "split");
    const fs::path first = wait_for_first_checkpoint(child, split);
    ASSERT_FALSE(first.empty()) << "no checkpoint appeared in " << split << "\n" << child.output();
    child.send(SIGTERM);
    const std::optional<int> status = child.wait_until(Clock::now() + kDeadline);
    ASSERT_TRUE(status.has_value()) << "still running " << kDeadline.count() << " s after SIGTERM\n" << child.output();
    ASSERT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 128 + SIGTERM)
        << describe_status(*status) << ", expected exit 143\n" << child.output();
    const std::string said = child.out() + child.err();
    EXPECT_NE(said.find("stopped by SIGTERM"), std::string::npos) << said;
    EXPECT_NE(said.find("--resume " + split.string()), std::string::npos) << said;
    stop_checkpoint = stop_checkpoint_named_in(child.out());
    ASSERT_FALSE(stop_checkpoint.empty()) << said;
    std::cout << "[          ] SIGTERM stopped at " << stop_checkpoint.filename().string() << "\n";

    // The stop saved progress beyond the first checkpoint; otherwise resuming from epoch-001
    // would match the uninterrupted run just as well and the comparison below would prove little.
    const std::optional<Checkpoint> stopped = load_or_fail(stop_checkpoint);
    const std::optional<Checkpoint> earlier = load_or_fail(first);
    ASSERT_TRUE(stopped && earlier);
    EXPECT_GT(stopped->state.step, earlier->state.step);
  }

  // The resume command as the stop message gives it: the run directory and the same options
  // (no --run-dir: the run continues in the directory it resumes from).
  std::string resumed_output;
  const int resumed_status = run_to_end(with(flags, {"--resume", split.string()}), "resumed", &resumed_output);
  ASSERT_TRUE(WIFEXITED(resumed_status) && WEXITSTATUS(resumed_status) == 0)
      << describe_status(resumed_status) << "\n" << resumed_output;
  EXPECT_NE(resumed_output.find("resumed from " + stop_checkpoint.string()), std::string::npos) << resumed_output;

  // Every epoch checkpoint of the uninterrupted run has a twin in the resumed one.
  const std::vector<fs::path> expected_files = checkpoint_files(whole);
  ASSERT_EQ(expected_files.size(), 3u);
  for (const fs::path& expected_file : expected_files) {
    SCOPED_TRACE(expected_file.filename().string());
    const fs::path actual_file = split / "checkpoints" / expected_file.filename();
    ASSERT_TRUE(fs::exists(actual_file)) << actual_file;
    const std::optional<Checkpoint> expected = load_or_fail(expected_file);
    const std::optional<Checkpoint> actual = load_or_fail(actual_file);
    ASSERT_TRUE(expected && actual);
    EXPECT_EQ(actual->state.step, expected->state.step);
    EXPECT_EQ(actual->metadata.epoch, expected->metadata.epoch);
    EXPECT_EQ(actual->metadata.seed, expected->metadata.seed);
    EXPECT_TRUE(same_bits(expected->state.parameters, actual->state.parameters)) << "parameters";
    EXPECT_TRUE(same_bits(expected->state.adam_m, actual->state.adam_m)) << "Adam m";
    EXPECT_TRUE(same_bits(expected->state.adam_v, actual->state.adam_v)) << "Adam v";
  }
  const std::vector<std::string> expected_rows = metrics_without_timing(whole);
  EXPECT_EQ(expected_rows.size(), 3u);
  EXPECT_EQ(metrics_without_timing(split), expected_rows);
}

// Ctrl-C is the same graceful stop with the shell's code for it, 130.
TEST_F(StopAndResumeTest, SigintExits130WithACheckpointWritten) {
  const fs::path run = scratch_.path() / "interrupted";
  Child child(with(common_flags(2000, 500, 3), {"--run-dir", run.string()}), scratch_.path() / "interrupted");
  const fs::path first = wait_for_first_checkpoint(child, run);
  ASSERT_FALSE(first.empty()) << "no checkpoint appeared in " << run << "\n" << child.output();
  child.send(SIGINT);
  const std::optional<int> status = child.wait_until(Clock::now() + kDeadline);
  ASSERT_TRUE(status.has_value()) << "still running " << kDeadline.count() << " s after SIGINT\n" << child.output();
  ASSERT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 128 + SIGINT)
      << describe_status(*status) << ", expected exit 130\n" << child.output();
  EXPECT_NE(child.out().find("stopped by SIGINT"), std::string::npos) << child.output();
  EXPECT_NE(child.out().find("--resume " + run.string()), std::string::npos) << child.output();

  // The checkpoint the stop wrote (not merely the epoch-001 that existed before the signal):
  // named in the message, newer than the first, whole, and what --resume would pick.
  const fs::path written = stop_checkpoint_named_in(child.out());
  ASSERT_FALSE(written.empty()) << child.output();
  EXPECT_NE(written, first);
  const std::optional<Checkpoint> stopped = load_or_fail(written);
  const std::optional<Checkpoint> earlier = load_or_fail(first);
  ASSERT_TRUE(stopped && earlier);
  EXPECT_GT(stopped->state.step, earlier->state.step);
  EXPECT_EQ(resolve_resume_source(run), written);
}

// A signal after the last epoch used to be swallowed: exit 0, no word. The run stops itself at a
// named point (TRAIN_GPU_TEST_STOP_AT), the test queues SIGTERM and continues it, so the signal
// lands there for certain. The training is complete, so the run keeps its checkpoint, says what it
// skipped and exits 143 as any SIGTERM stop does. Returns the run's stdout.
class SignalAfterTrainingTest : public StopAndResumeTest {
 protected:
  std::string sigterm_at(const std::string& point, const fs::path& run) {
    Child child(with(common_flags(640, 200, 1), {"--run-dir", run.string()}), scratch_.path() / point,
                {"TRAIN_GPU_TEST_STOP_AT=" + point});
    EXPECT_TRUE(child.wait_until_stopped(Clock::now() + kDeadline)) << "the run never reached " << point << "\n"
                                                                     << child.output();
    child.send(SIGTERM);  // pending while the child is stopped; handled the moment it continues
    child.send(SIGCONT);
    const std::optional<int> status = child.wait_until(Clock::now() + kDeadline);
    EXPECT_TRUE(status.has_value()) << "still running " << kDeadline.count() << " s after SIGTERM\n" << child.output();
    EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 128 + SIGTERM)
        << describe_status(status.value_or(-1)) << ", expected exit 143\n" << child.output();
    EXPECT_TRUE(load_or_fail(run / "checkpoints" / "epoch-001.safetensors").has_value());
    return child.out();
  }
};

// During the last epoch's test pass or save (the trainer finishes a last epoch): the evaluation
// is skipped, and the message says how to make it.
TEST_F(SignalAfterTrainingTest, SigtermAfterTheLastEpochSkipsTheFinalEvaluationAndExits143) {
  const fs::path run = scratch_.path() / "run";
  const std::string out = sigterm_at("training-done", run);
  const std::string last = (run / "checkpoints" / "epoch-001.safetensors").string();
  EXPECT_NE(out.find("stopped by SIGTERM after the last epoch: training is complete (checkpoint " + last +
                     "); the final evaluation was skipped (train_gpu evaluate --checkpoint " + last + " writes it)"),
            std::string::npos)
      << out;
  EXPECT_FALSE(fs::exists(run / "evaluation"));
}

// During the final evaluation, which cannot stop halfway: it is finished and written, then the run
// exits.
TEST_F(SignalAfterTrainingTest, SigtermDuringTheFinalEvaluationExits143) {
  const fs::path run = scratch_.path() / "run";
  const std::string out = sigterm_at("final-evaluation", run);
  EXPECT_NE(out.find("stopped by SIGTERM during the final evaluation: training is complete (checkpoint " +
                     (run / "checkpoints" / "epoch-001.safetensors").string() + ") and evaluated in " +
                     (run / "evaluation").string()),
            std::string::npos)
      << out;
  EXPECT_TRUE(fs::exists(run / "evaluation" / "evaluation.json"));
}

}  // namespace
}  // namespace train_gpu
