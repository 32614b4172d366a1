// Each command's --help lists its own flags and no other command's (issue 24 item 6: evaluate's
// listed --graph, --profile-steps, --loader and a --deterministic about metrics.csv), with defaults
// that read right: no "{false}" after a switch that is on by default, and no "=mnist" after the
// --dataset of a command whose default is the checkpoint's dataset.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/test_support.h"

namespace train_gpu::testing {
namespace {

std::string help_of(const std::string& command) {
  const MergedCommandResult result = run_command_merged(shell_quote(TRAIN_GPU_BINARY) + " " + command + " --help");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  return result.output;
}

// A flag as a whole word of the help text: "--graph" must not match "--graph-steps".
bool lists(const std::string& help, const std::string& flag) {
  for (size_t at = help.find(flag); at != std::string::npos; at = help.find(flag, at + 1)) {
    const size_t end = at + flag.size();
    const bool starts_word = at == 0 || help[at - 1] == ' ' || help[at - 1] == ',';
    const bool ends_word = end == help.size() || help[end] == ' ' || help[end] == ',' || help[end] == '\n' || help[end] == '=';
    if (starts_word && ends_word) return true;
  }
  return false;
}

const std::vector<std::string> kTrainingOnly = {"--graph", "--no-graph", "--graph-steps", "--profile-steps", "--loader"};

TEST(CommandHelp, TrainListsTheTrainingFlagsAndItsSwitchesWithoutAFalseDefault) {
  const std::string help = help_of("train");
  for (const std::string& flag : kTrainingOnly) EXPECT_TRUE(lists(help, flag)) << flag << "\n" << help;
  for (const std::string flag : {"--tensorboard", "--no-tensorboard", "--epochs", "--resume", "--dataset", "--deterministic"}) {
    EXPECT_TRUE(lists(help, flag)) << flag << "\n" << help;
  }
  EXPECT_EQ(help.find("{false}"), std::string::npos) << help;
  EXPECT_NE(help.find("--dataset TEXT:{mnist,fashion-mnist,idx,cifar10,folder}=mnist"), std::string::npos) << help;
}

TEST(CommandHelp, CommandsThatTrainNothingListNoTrainingFlags) {
  for (const std::string command : {"evaluate", "features", "predict"}) {
    const std::string help = help_of(command);
    for (const std::string& flag : kTrainingOnly) EXPECT_FALSE(lists(help, flag)) << command << " lists " << flag << "\n" << help;
    EXPECT_EQ(help.find("metrics.csv"), std::string::npos) << command << "\n" << help;
    EXPECT_EQ(help.find("{false}"), std::string::npos) << command << "\n" << help;
    for (const std::string flag : {"--device", "--threads", "--deterministic", "--checkpoint"}) {
      EXPECT_TRUE(lists(help, flag)) << command << " lacks " << flag << "\n" << help;
    }
  }
}

TEST(CommandHelp, CheckpointCommandsShowTheCheckpointsDatasetAsTheDefault) {
  for (const std::string command : {"evaluate", "features"}) {
    const std::string help = help_of(command);
    EXPECT_TRUE(lists(help, "--dataset")) << command << "\n" << help;
    EXPECT_EQ(help.find("=mnist"), std::string::npos) << command << "\n" << help;
    EXPECT_NE(help.find("[default: the checkpoint's]"), std::string::npos) << command << "\n" << help;
  }
}

TEST(CommandHelp, BenchListsTheLoaderButNotTheGraphSwitch) {
  const std::string help = help_of("bench");
  EXPECT_TRUE(lists(help, "--loader")) << help;
  EXPECT_TRUE(lists(help, "--profile-steps")) << help;
  EXPECT_FALSE(lists(help, "--graph")) << help;  // bench's --launch chooses eager and/or graph rows
  EXPECT_FALSE(lists(help, "--no-graph")) << help;
}

TEST(CommandHelp, TheSwitchesStillWorkBothWaysAndExcludeEachOther) {
  const MergedCommandResult both =
      run_command_merged(shell_quote(TRAIN_GPU_BINARY) + " train --tensorboard --no-tensorboard --dry-run");
  EXPECT_NE(both.exit_code, 0) << both.output;
  EXPECT_NE(both.output.find("excludes"), std::string::npos) << both.output;
}

}  // namespace
}  // namespace train_gpu::testing
