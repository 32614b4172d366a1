// `train_gpu train` with the training-control flags, as a user runs it: a cosine schedule's
// learning_rate column equals its closed form, a finished 1-epoch run resumed with --epochs 2
// trains one more, the plateau's cooldown and min_delta and early stopping's min_delta decide as
// Keras's callbacks do (and resume exactly), and flags the chosen optimizer or schedule does not
// read are one error line.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;

bool has_mnist() { return fs::exists(fs::path(TRAIN_GPU_MNIST_DIR) / "t10k-labels-idx1-ubyte.gz"); }

class TrainingControlsCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!has_mnist()) GTEST_SKIP() << "MNIST not found at " << TRAIN_GPU_MNIST_DIR;
  }
  // 640 training images in batches of 64: 10 steps per epoch.
  t::CommandResult train(const std::string& arguments) {
    return t::run_command(t::shell_quote(TRAIN_GPU_BINARY) + " --device cpu --no-progress --no-tensorboard --data-dir " +
                              t::shell_quote(TRAIN_GPU_MNIST_DIR) + " --limit-train 640 --limit-test 100 " + arguments,
                          scratch_.path());
  }
  // metrics.csv's rows, split at commas (the header checked to name the columns read).
  static std::vector<std::vector<std::string>> rows(const fs::path& run) {
    const std::vector<std::string> lines = t::lines_of(t::read_text(run / "metrics.csv"));
    EXPECT_EQ(lines.at(0),
              "epoch,train_loss,train_accuracy,test_loss,test_accuracy,epoch_seconds,samples_per_second,resumed_at_batch,"
              "learning_rate,val_loss,val_accuracy");
    std::vector<std::vector<std::string>> result;
    for (std::size_t i = 1; i < lines.size(); ++i) {
      std::vector<std::string> fields;
      std::stringstream line(lines[i]);
      for (std::string field; std::getline(line, field, ',');) fields.push_back(field);
      if (!lines[i].empty() && lines[i].back() == ',') fields.push_back("");
      result.push_back(fields);
    }
    return result;
  }
  t::TempDir scratch_;
};

TEST_F(TrainingControlsCommandTest, ACosineSchedulesLearningRateColumnIsItsClosedForm) {
  const fs::path run = scratch_.path() / "cosine";
  const t::CommandResult result =
      train("--epochs 4 --lr-schedule cosine --lr-min 0.0001 --warmup-epochs 1 --run-dir " + t::shell_quote(run.string()));
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  // Epoch e's first step t = 10 (e - 1) + 1. Warm-up (W = 10 steps): lr t / W; then k = t - 11 of
  // D = 30 steps: lr_min + (lr - lr_min)(1 + cos(pi k / D)) / 2. Printed as the shortest text of
  // the float, so compared as floats: within one rounding (2^-24 relative) of the double.
  const double lr = double(1e-3f), lr_min = double(1e-4f), pi = 3.14159265358979323846;
  const double expected[4] = {lr * 1 / 10, lr_min + (lr - lr_min) * (1 + std::cos(pi * 0 / 30)) / 2,
                              lr_min + (lr - lr_min) * (1 + std::cos(pi * 10 / 30)) / 2,
                              lr_min + (lr - lr_min) * (1 + std::cos(pi * 20 / 30)) / 2};
  const auto table = rows(run);
  ASSERT_EQ(table.size(), 4u);
  for (int epoch = 0; epoch < 4; ++epoch) {
    EXPECT_NEAR(std::stod(table[epoch].at(8)), expected[epoch], expected[epoch] / 16777216.0) << "epoch " << epoch + 1;
  }
  EXPECT_NE(result.out.find("  lr "), std::string::npos) << "the epoch line names the rate:\n" << result.out;
}

TEST_F(TrainingControlsCommandTest, AFinishedRunResumedWithMoreEpochsTrainsTheExtraOnes) {
  const fs::path run = scratch_.path() / "more";
  t::CommandResult result = train("--epochs 1 --optimizer sgd --momentum 0.9 --run-dir " + t::shell_quote(run.string()));
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  result = train("--resume " + t::shell_quote(run.string()) + " --epochs 2");
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("--epochs 2 overrides the run's 1"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("epoch 2/2"), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find("epoch 1/2"), std::string::npos) << "epoch 1 was not trained again:\n" << result.out;
  EXPECT_TRUE(fs::exists(run / "checkpoints" / "epoch-002.safetensors"));
  const auto table = rows(run);
  ASSERT_EQ(table.size(), 2u);
  EXPECT_EQ(table[1].at(0), "2");
  EXPECT_EQ(table[1].at(8), "0.01") << "SGD's Keras default rate, taken from the run's config.json";
}

TEST_F(TrainingControlsCommandTest, AFlagTheOptimizerDoesNotReadIsOneErrorLine) {
  const t::CommandResult result = train("--epochs 1 --momentum 0.9 --run-dir " + t::shell_quote((scratch_.path() / "x").string()));
  EXPECT_NE(result.exit_code, 0);
  const std::vector<std::string> lines = t::lines_of(result.err);
  ASSERT_EQ(lines.size(), 1u) << result.err;
  EXPECT_NE(lines[0].find("--momentum is read only by --optimizer sgd and rmsprop"), std::string::npos) << lines[0];
  EXPECT_FALSE(fs::exists(scratch_.path() / "x" / "metrics.csv")) << "refused before any training";
}

TEST_F(TrainingControlsCommandTest, EarlyStoppingWithoutAValidationSplitIsOneErrorLine) {
  const t::CommandResult result = train("--epochs 3 --early-stopping 2 --run-dir " + t::shell_quote((scratch_.path() / "y").string()));
  EXPECT_NE(result.exit_code, 0);
  const std::vector<std::string> lines = t::lines_of(result.err);
  ASSERT_EQ(lines.size(), 1u) << result.err;
  EXPECT_NE(lines[0].find("give --validation-split too"), std::string::npos) << lines[0];
}

// --lr-plateau-min-delta 10: no epoch after the first improves, so with patience 1 each counted
// epoch cuts (Keras's rule, host/train/lr_plateau.h). --lr-plateau-cooldown 2 then leaves one
// epoch uncounted after each cut: cuts after epochs 2 and 4 (not 2, 3, 4, 5). The learning_rate
// column is the rate of each epoch's first step, so it shows a cut one row later. The run
// stopped after 4 epochs and resumed to 6 must cut where the whole run does: the cooldown
// counter is in the checkpoint.
TEST_F(TrainingControlsCommandTest, PlateauCooldownAndMinDeltaCutWhereKerasWouldAndResumeExactly) {
  const std::string plateau =
      "--lr 0.01 --lr-schedule plateau --lr-gamma 0.5 --lr-patience 1 --lr-plateau-min-delta 10 --validation-split 0.2 ";
  const auto rates = [&](const fs::path& run) {
    std::vector<std::string> column;
    for (const auto& row : rows(run)) column.push_back(row.at(8));
    return column;
  };
  const fs::path cooled = scratch_.path() / "cooled", plain = scratch_.path() / "plain", resumed = scratch_.path() / "resumed";
  ASSERT_EQ(train(plateau + "--lr-plateau-cooldown 2 --epochs 6 --run-dir " + t::shell_quote(cooled.string())).exit_code, 0);
  EXPECT_EQ(rates(cooled), (std::vector<std::string>{"0.01", "0.01", "0.005", "0.005", "0.0025", "0.0025"}));
  ASSERT_EQ(train(plateau + "--epochs 6 --run-dir " + t::shell_quote(plain.string())).exit_code, 0);
  EXPECT_EQ(rates(plain), (std::vector<std::string>{"0.01", "0.01", "0.005", "0.0025", "0.00125", "0.000625"}));
  ASSERT_EQ(train(plateau + "--lr-plateau-cooldown 2 --epochs 4 --run-dir " + t::shell_quote(resumed.string())).exit_code, 0);
  const t::CommandResult more = train("--resume " + t::shell_quote(resumed.string()) + " --epochs 6");
  ASSERT_EQ(more.exit_code, 0) << more.err;
  EXPECT_EQ(rates(resumed), rates(cooled));
}

// --early-stopping-min-delta 10: no epoch after the first is an improvement, so patience 1 stops
// the run after epoch 2, with epoch 1 as the best.
TEST_F(TrainingControlsCommandTest, EarlyStoppingMinDeltaCountsSmallFallsAsNoImprovement) {
  const fs::path run = scratch_.path() / "early";
  const t::CommandResult result = train("--epochs 5 --validation-split 0.2 --early-stopping 1 --early-stopping-min-delta 10 "
                                        "--run-dir " + t::shell_quote(run.string()));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(rows(run).size(), 2u);
  EXPECT_NE(result.out.find("at epoch 1"), std::string::npos) << result.out;
}

TEST_F(TrainingControlsCommandTest, PlateauAndEarlyStoppingKnobsWithoutTheirOwnerAreOneErrorLine) {
  const struct {
    const char* flags;
    const char* message;
  } cases[] = {{"--lr-plateau-cooldown 2", "--lr-plateau-cooldown is read only by --lr-schedule plateau"},
               {"--lr-plateau-min-delta 0.01", "--lr-plateau-min-delta is read only by --lr-schedule plateau"},
               {"--validation-split 0.2 --early-stopping-min-delta 0.01", "--early-stopping-min-delta is read only by --early-stopping"}};
  for (const auto& c : cases) {
    const t::CommandResult result =
        train(std::string("--epochs 1 ") + c.flags + " --run-dir " + t::shell_quote((scratch_.path() / "z").string()));
    EXPECT_NE(result.exit_code, 0) << c.flags;
    const std::vector<std::string> lines = t::lines_of(result.err);
    ASSERT_EQ(lines.size(), 1u) << result.err;
    EXPECT_NE(lines[0].find(c.message), std::string::npos) << lines[0];
  }
}

}  // namespace
}  // namespace train_gpu
