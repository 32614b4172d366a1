// tools/profile.sh builds the profiler command a user would type: ncu (or nsys) recording only
// the --profile-steps bracket, with the user's train_gpu flags passed through. --dry-run prints
// it without a GPU or profiler, which is what runs here.
#include <gtest/gtest.h>

#include <string>

#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace t = train_gpu::testing;

const std::string kScript = std::string(TRAIN_GPU_SOURCE_DIR) + "/tools/profile.sh";

TEST(ProfileScript, NcuRecordsOnlyTheBracketedStepsNodeByNode) {
  const t::MergedCommandResult result = t::run_command_merged(
      "'" + kScript + "' --dry-run --binary /opt/train_gpu --steps 10:12 --out /tmp/p -- --graph --kernels fused");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output.rfind("ncu --profile-from-start off --nvtx --graph-profiling node ", 0), 0u) << result.output;
  EXPECT_NE(result.output.find("-o /tmp/p/train_gpu_steps_10-12 "), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("/opt/train_gpu --device 0 "), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("--profile-steps 10:12 --graph --kernels fused"), std::string::npos) << result.output;
}

TEST(ProfileScript, NsysUsesTheProfilerApiAsItsCaptureRange) {
  const t::MergedCommandResult result =
      t::run_command_merged("'" + kScript + "' --dry-run --tool nsys --binary /opt/train_gpu");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("nsys profile --capture-range=cudaProfilerApi --capture-range-end=stop "),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("--profile-steps 200:202"), std::string::npos) << result.output;
}

TEST(ProfileScript, BadArgumentsAreOneLineAndExitTwo) {
  for (const char* arguments : {"--steps 12 --binary /opt/x", "--tool perf --binary /opt/x", "--frobnicate"}) {
    const t::MergedCommandResult result = t::run_command_merged("'" + kScript + "' --dry-run " + arguments);
    EXPECT_EQ(result.exit_code, 2) << arguments << ": " << result.output;
    EXPECT_EQ(t::lines_of(result.output).size(), 1u) << arguments << ": " << result.output;
  }
}

}  // namespace
}  // namespace train_gpu
