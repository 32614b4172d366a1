// `train_gpu export` as a process that gets signalled or killed inside its write: what it leaves
// beside --out, and that the next export clears what a kill -9 left. (The ONNX it writes is onnx_export_test's.)
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "host/train/checkpoint.h"
#include "support/child_process.h"
#include "support/random_model.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// An export held inside its write by the writer's test-only pause point (half the file in the
// temporary, the process stopped), so that a signal lands inside the write for certain. Returns
// the temporary's path. The writer writes the marker and only then stops itself: a SIGCONT sent
// between the two would be spent before the stop and leave the child stopped for good, so this
// returns only once the child is seen stopped.
fs::path pause_export_in_write(t::Child& child, const fs::path& marker) {
  const t::Clock::time_point deadline = t::Clock::now() + t::kDeadline;
  while (!fs::exists(marker) && child.running() && t::Clock::now() < deadline) std::this_thread::sleep_for(t::kPollInterval);
  EXPECT_TRUE(fs::exists(marker)) << "the export never reached the pause point\n" << child.output();
  if (!fs::exists(marker)) return {};
  const bool stopped = child.wait_until_stopped(deadline);
  EXPECT_TRUE(stopped) << "the export wrote the marker but never stopped\n" << child.output();
  if (!stopped) return {};
  const std::string marker_text = t::read_text(marker);
  return marker_text.substr(0, marker_text.size() - 1);  // without its newline
}

t::CommandResult export_to(const fs::path& checkpoint, const fs::path& model, const fs::path& cwd) {
  return t::run_command(t::shell_quote(TRAIN_GPU_BINARY) + " export --checkpoint " + t::shell_quote(checkpoint.string()) +
                            " --out " + t::shell_quote(model.string()),
                        cwd);
}

class ExportCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    save_checkpoint(checkpoint_, t::checkpoint_of(t::random_parameters(5)));
    fs::create_directory(out_dir_);
  }
  std::vector<std::string> arguments() const {
    return {"export", "--checkpoint", checkpoint_.string(), "--out", model_.string()};
  }
  std::vector<std::string> pause_environment() const {
    return {"TRAIN_GPU_TEST_PAUSE_WRITING=model.onnx:" + marker_.string()};
  }

  t::TempDir scratch_;
  const fs::path checkpoint_ = scratch_ / "epoch-001.safetensors";
  const fs::path out_dir_ = scratch_ / "out";
  const fs::path model_ = out_dir_ / "model.onnx";
  const fs::path marker_ = scratch_ / "paused-in-write";
};

// SIGTERM (or Ctrl-C) inside the write killed the export there and left the atomic writer's
// temporary (".model.onnx.tmp-PID-0", megabytes) for good. The writer holds those signals until
// the rename: the export is killed by the SIGTERM, but only with the whole model in place, the
// same bytes as an export left alone, and nothing else beside it.
TEST_F(ExportCommand, SigtermInsideTheWriteTakesEffectOnlyOnceTheModelIsInPlace) {
  {
    t::Child child(arguments(), scratch_ / "terminated", pause_environment());
    const fs::path temporary = pause_export_in_write(child, marker_);
    ASSERT_FALSE(temporary.empty());
    ASSERT_TRUE(fs::exists(temporary));
    child.send(SIGTERM);  // queued: the child is stopped at the pause point
    child.send(SIGCONT);
    const std::optional<int> status = child.wait_until(t::Clock::now() + t::kDeadline);
    ASSERT_TRUE(status.has_value()) << "the export neither finished nor died";
    EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGTERM) << t::describe_status(*status);
  }
  ASSERT_EQ(files_in(out_dir_), std::vector<std::string>{"model.onnx"}) << "the signal left the temporary";
  const t::Bytes terminated = t::read_file(model_);

  fs::remove(model_);
  const t::CommandResult again = export_to(checkpoint_, model_, scratch_.path());
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_TRUE(terminated == t::read_file(model_)) << "the model the signalled export left is not the whole model";
}

// kill -9 cannot be held: it leaves the temporary, and the next export into that directory
// removes it, saying so.
TEST_F(ExportCommand, TheNextExportRemovesTheTemporaryOfAKilledOne) {
  fs::path temporary;
  {
    t::Child killed(arguments(), scratch_ / "killed", pause_environment());
    temporary = pause_export_in_write(killed, marker_);
    ASSERT_FALSE(temporary.empty());
    killed.send(SIGKILL);
    const std::optional<int> status = killed.wait_until(t::Clock::now() + t::kDeadline);
    ASSERT_TRUE(status.has_value());
    ASSERT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL) << t::describe_status(*status);
  }
  ASSERT_EQ(files_in(out_dir_), std::vector<std::string>{temporary.filename().string()}) << "the kill left the temporary";

  const t::CommandResult again = export_to(checkpoint_, model_, scratch_.path());
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  t::expect_contains(again.out, "removed 1 unfinished file(s) that a killed process left in " + out_dir_.string());
  EXPECT_EQ(files_in(out_dir_), std::vector<std::string>{"model.onnx"});
}

}  // namespace
}  // namespace train_gpu
