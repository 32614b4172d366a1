// A resume continues the run as it was started (issue 24 item 2): a 3-epoch run resumed with no
// flags trains to epoch 3, not to the default 10, and finds its data from another working
// directory without --data-dir; a flag given overrides the run's setting and says so. The real
// binary, as a user runs it.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "support/mnist_subset.h"
#include "support/test_support.h"

namespace train_gpu::testing {
namespace {

namespace fs = std::filesystem;

class ResumeSettings : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!mnist_available()) GTEST_SKIP() << "no MNIST at " << TRAIN_GPU_MNIST_DIR;
    fs::create_directories(first_cwd());
    fs::create_directories(other_cwd());
    // A relative --data-dir, so config.json must make it absolute for the resume from elsewhere.
    fs::create_directory_symlink(fs::absolute(TRAIN_GPU_MNIST_DIR), first_cwd() / "mnist");
  }
  fs::path first_cwd() const { return scratch_.path() / "first"; }
  fs::path other_cwd() const { return scratch_.path() / "other"; }
  fs::path run() const { return first_cwd() / "run"; }
  CommandResult train_in(const fs::path& cwd, const std::string& flags) {
    return run_command("cd " + shell_quote(cwd.string()) + " && " + shell_quote(TRAIN_GPU_BINARY) + " train " + flags,
                       scratch_.path());
  }
  TempDir scratch_;
};

TEST_F(ResumeSettings, ARunResumedWithNoFlagsKeepsItsEpochsDataAndSettings) {
  // Settings away from every default, so a resume that fell back to a default would show it.
  const CommandResult first = train_in(first_cwd(), "--epochs 3 --batch-size 32 --lr 0.002 --beta1 0.9 --limit-train 320 "
                                                    "--limit-test 100 --device cpu --no-tensorboard --no-progress "
                                                    "--data-dir mnist --run-dir run");
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;

  const std::string config_text = read_text(run() / "config.json");
  const nlohmann::json config = nlohmann::json::parse(config_text);
  // Floats as typed: the float 0.9f widened to a double would print 0.8999999761581421.
  EXPECT_NE(config_text.find("\"beta1\": 0.9,"), std::string::npos) << config_text;
  EXPECT_NE(config_text.find("\"learning_rate\": 0.002,"), std::string::npos) << config_text;
  EXPECT_EQ(config["dataset"]["directory"], fs::absolute(first_cwd() / "mnist").lexically_normal().string());
  EXPECT_TRUE(fs::path(config["dataset"]["files"][0]["path"].get<std::string>()).is_absolute()) << config_text;
  ASSERT_TRUE(config["command_line"].is_array()) << config_text;
  EXPECT_EQ(config["command_line"][1], "train");
  EXPECT_EQ(config["command_line"][3], "3");

  // As if the run had been killed after its first epoch.
  fs::remove(run() / "checkpoints" / "epoch-002.safetensors");
  fs::remove(run() / "checkpoints" / "epoch-003.safetensors");

  const CommandResult resumed = train_in(other_cwd(), "--resume " + shell_quote(run().string()));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  EXPECT_NE(resumed.out.find("resuming with the settings in " + (run() / "config.json").string()), std::string::npos)
      << resumed.out;
  EXPECT_NE(resumed.out.find("resumed from"), std::string::npos) << resumed.out;
  EXPECT_TRUE(fs::exists(run() / "checkpoints" / "epoch-003.safetensors"));
  EXPECT_FALSE(fs::exists(run() / "checkpoints" / "epoch-004.safetensors")) << resumed.out;
  EXPECT_EQ(resumed.out.find("overrides the run's"), std::string::npos) << resumed.out;  // no flag given, none overridden
  EXPECT_FALSE(fs::exists(run() / "train")) << "the run's --no-tensorboard was not kept";

  const CommandResult again = train_in(other_cwd(), "--resume " + shell_quote(run().string()));
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("nothing to do: the checkpoint has already completed 3 of 3"), std::string::npos) << again.out;

  const CommandResult longer = train_in(other_cwd(), "--resume " + shell_quote(run().string()) + " --epochs 4 --tensorboard");
  ASSERT_EQ(longer.exit_code, 0) << longer.out << longer.err;
  EXPECT_NE(longer.out.find("--epochs 4 overrides the run's 3"), std::string::npos) << longer.out;
  EXPECT_NE(longer.out.find("--tensorboard overrides the run's false"), std::string::npos) << longer.out;
  EXPECT_TRUE(fs::exists(run() / "validation")) << longer.out;
  EXPECT_TRUE(fs::exists(run() / "checkpoints" / "epoch-004.safetensors")) << longer.out;
}

TEST_F(ResumeSettings, AFlagTheCheckpointCannotContinueUnderIsStillRefused) {
  const CommandResult first = train_in(first_cwd(), "--epochs 1 --batch-size 32 --limit-train 320 --limit-test 100 "
                                                    "--device cpu --no-tensorboard --no-progress --data-dir mnist --run-dir run");
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  const CommandResult resumed = train_in(other_cwd(), "--resume " + shell_quote(run().string()) + " --epochs 2 --batch-size 64");
  EXPECT_EQ(resumed.exit_code, 1) << resumed.out << resumed.err;
  EXPECT_NE(resumed.out.find("--batch-size 64 overrides the run's 32"), std::string::npos) << resumed.out;
  EXPECT_NE(resumed.err.find("it used --batch-size 32; resume with the same"), std::string::npos) << resumed.err;
}

// --no-winograd changes a spec model's rounding on the CPU: the resumed epochs keep the run's
// choice (the epoch line names the kernels that ran), and a flag given says it overrides it.
TEST_F(ResumeSettings, AResumeKeepsTheRunsConvolutionAlgorithm) {
  const std::string convnet = shell_quote(std::string(TRAIN_GPU_SOURCE_DIR) + "/tools/bench/models/simple_mnist_convnet.json");
  const CommandResult first = train_in(first_cwd(), "--model " + convnet + " --no-winograd --epochs 2 --batch-size 32 "
                                                    "--limit-train 320 --limit-test 100 --device cpu --no-tensorboard "
                                                    "--no-progress --data-dir mnist --run-dir run");
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_NE(first.out.find("epoch 2/2"), std::string::npos) << first.out;
  EXPECT_EQ(first.out.find("Winograd"), std::string::npos) << first.out;
  EXPECT_EQ(nlohmann::json::parse(read_text(run() / "config.json"))["settings"]["winograd"], false);

  fs::remove(run() / "checkpoints" / "epoch-002.safetensors");
  const CommandResult resumed = train_in(other_cwd(), "--resume " + shell_quote(run().string()));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  EXPECT_NE(resumed.out.find("epoch 2/2"), std::string::npos) << resumed.out;
  EXPECT_EQ(resumed.out.find("Winograd"), std::string::npos) << resumed.out;

  fs::remove(run() / "checkpoints" / "epoch-002.safetensors");
  const CommandResult switched = train_in(other_cwd(), "--resume " + shell_quote(run().string()) + " --winograd");
  ASSERT_EQ(switched.exit_code, 0) << switched.out << switched.err;
  EXPECT_NE(switched.out.find("--winograd overrides the run's false"), std::string::npos) << switched.out;
}

}  // namespace
}  // namespace train_gpu::testing
