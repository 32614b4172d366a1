// `train_gpu export` as a process that gets killed: what it leaves beside --out, and that the next
// export clears it. (The ONNX it writes is onnx_export_test's.)
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

// SIGTERM (or Ctrl-C, or kill -9) while the model is written leaves the atomic writer's temporary
// (".model.onnx.tmp-PID-0", megabytes). The writer's test-only pause point holds the export with
// half the file written, so the signal lands inside the write for certain.
TEST(ExportCommand, TheNextExportRemovesTheTemporaryOfAKilledOne) {
  t::TempDir scratch;
  const fs::path checkpoint = scratch / "epoch-001.safetensors";
  save_checkpoint(checkpoint, t::checkpoint_of(t::random_parameters(5)));
  const fs::path out_dir = scratch / "out";
  fs::create_directory(out_dir);
  const fs::path model = out_dir / "model.onnx";
  const fs::path marker = scratch / "paused-in-write";
  const std::vector<std::string> arguments{"export", "--checkpoint", checkpoint.string(), "--out", model.string()};
  fs::path temporary;
  {
    t::Child killed(arguments, scratch / "killed", {"TRAIN_GPU_TEST_PAUSE_WRITING=model.onnx:" + marker.string()});
    const t::Clock::time_point deadline = t::Clock::now() + t::kDeadline;
    while (!fs::exists(marker) && killed.running() && t::Clock::now() < deadline) std::this_thread::sleep_for(t::kPollInterval);
    ASSERT_TRUE(fs::exists(marker)) << "the export never reached the pause point\n" << killed.output();
    const std::string marker_text = t::read_text(marker);
    temporary = marker_text.substr(0, marker_text.size() - 1);  // without its newline
    killed.send(SIGTERM);
    const std::optional<int> status = killed.wait_until(t::Clock::now() + t::kDeadline);
    ASSERT_TRUE(status.has_value());
    ASSERT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGTERM) << t::describe_status(*status);
  }
  ASSERT_EQ(files_in(out_dir), std::vector<std::string>{temporary.filename().string()}) << "the kill left the temporary";

  const t::CommandResult again = t::run_command(t::shell_quote(TRAIN_GPU_BINARY) + " export --checkpoint " +
                                                    t::shell_quote(checkpoint.string()) + " --out " + t::shell_quote(model.string()),
                                                scratch.path());
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  t::expect_contains(again.out, "removed 1 unfinished file(s) that a killed process left in " + out_dir.string());
  EXPECT_EQ(files_in(out_dir), std::vector<std::string>{"model.onnx"});
}

}  // namespace
}  // namespace train_gpu
