// Why no GPU answers (issue 24 item 6): a machine with no NVIDIA driver at all is told so, not
// that its driver "version is insufficient"; that wording stays where a driver is too old. And
// the CPU fallback note names what the command does: only train says "training".
#include <gtest/gtest.h>

#include <string>

#include "host/model/backend_factory.h"
#include "host/model/nvidia_driver.h"
#include "support/test_support.h"

namespace train_gpu::testing {
namespace {

const std::string kInsufficient = "CUDA driver version is insufficient for CUDA runtime version";

TEST(NoGpuReason, NoDriverAtAllIsSaidSo) {
  const std::string reason = no_gpu_reason(kInsufficient, /*driver_found=*/false);
  EXPECT_NE(reason.find("no NVIDIA driver found"), std::string::npos) << reason;
  EXPECT_EQ(reason.find("insufficient"), std::string::npos) << reason;
}

TEST(NoGpuReason, ADriverTooOldKeepsTheRuntimesWords) {
  EXPECT_EQ(no_gpu_reason(kInsufficient, /*driver_found=*/true), kInsufficient);
}

// The real process on this machine: the note on stderr when --device is left to choose.
class CpuFallbackNote : public ::testing::Test {
 protected:
  void SetUp() override {
    if (nvidia_driver_found()) GTEST_SKIP() << "an NVIDIA driver is installed here; the note would name a GPU's state";
  }
  std::string expected_reason() const { return built_with_cuda() ? "no usable GPU (no NVIDIA driver found" : "CPU-only build"; }
  TempDir scratch_;
};

TEST_F(CpuFallbackNote, TrainSaysNoDriverAndTrainingAndEvaluateSaysRunning) {
  const std::string binary = shell_quote(TRAIN_GPU_BINARY);
  const std::filesystem::path run = scratch_.path() / "run";
  const std::string data = " --data-dir " + shell_quote(TRAIN_GPU_MNIST_DIR) + " --limit-train 640 --limit-test 100";
  const CommandResult train = run_command(binary + " train --epochs 1 --no-progress --no-tensorboard --run-dir " +
                                              shell_quote(run.string()) + data, scratch_.path());
  ASSERT_EQ(train.exit_code, 0) << train.out << train.err;
  EXPECT_NE(train.err.find(expected_reason()), std::string::npos) << train.err;
  EXPECT_NE(train.err.find("; training on the CPU"), std::string::npos) << train.err;
  EXPECT_EQ(train.err.find("insufficient"), std::string::npos) << train.err;

  const CommandResult evaluate =
      run_command(binary + " evaluate --checkpoint " + shell_quote((run / "checkpoints" / "epoch-001.safetensors").string()) +
                      data + " --out " + shell_quote((scratch_.path() / "evaluation").string()),
                  scratch_.path());
  ASSERT_EQ(evaluate.exit_code, 0) << evaluate.out << evaluate.err;
  const std::string said = evaluate.out + evaluate.err;
  EXPECT_NE(said.find(expected_reason()), std::string::npos) << said;
  EXPECT_NE(said.find("; running on the CPU"), std::string::npos) << said;
  EXPECT_EQ(said.find("training"), std::string::npos) << said;
}

}  // namespace
}  // namespace train_gpu::testing
