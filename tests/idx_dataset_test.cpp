// --dataset idx (issue 24 item 7): a set of one's own, 28x28 images in 10 classes in the MNIST
// file layout, trains under its own name rather than as "mnist", and the checkpoint says so. The
// set is made here; the real binary trains and evaluates it.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "host/train/checkpoint.h"
#include "support/idx_files.h"
#include "support/test_support.h"

namespace train_gpu::testing {
namespace {

namespace fs = std::filesystem;

class IdxDataset : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = scratch_.path() / "glyphs";
    fs::create_directories(data_);
    write_file(data_ / "train-images-idx3-ubyte", idx_images(200, 28, 28));
    write_file(data_ / "train-labels-idx1-ubyte", idx_labels(cycling_labels(200)));
    write_file(data_ / "t10k-images-idx3-ubyte", idx_images(100, 28, 28));
    write_file(data_ / "t10k-labels-idx1-ubyte", idx_labels(cycling_labels(100)));
  }
  MergedCommandResult train_gpu(const std::string& arguments) const {
    return run_command_merged(shell_quote(TRAIN_GPU_BINARY) + " " + arguments);
  }
  TempDir scratch_;
  fs::path data_;
};

TEST_F(IdxDataset, TrainsUnderItsOwnNameAndEvaluatesFromItsDirectory) {
  const fs::path run = scratch_.path() / "run";
  MergedCommandResult result = train_gpu("train --dataset idx --dataset-name my-glyphs --data-dir " + shell_quote(data_.string()) +
                                         " --epochs 1 --device cpu --no-tensorboard --no-progress --run-dir " +
                                         shell_quote(run.string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const fs::path checkpoint_file = run / "checkpoints" / "epoch-001.safetensors";
  const Checkpoint checkpoint = load_checkpoint(checkpoint_file);
  EXPECT_EQ(checkpoint.metadata.dataset, "idx");
  EXPECT_EQ(checkpoint.metadata.extra.at("dataset_name"), "my-glyphs");
  const nlohmann::json config = nlohmann::json::parse(read_text(run / "config.json"));
  EXPECT_EQ(config["dataset"]["name"], "idx");
  EXPECT_EQ(config["dataset"]["dataset_name"], "my-glyphs");

  // Its checkpoint knows the set but not where it lies: the command asks for --data-dir.
  result = train_gpu("evaluate --device cpu --checkpoint " + shell_quote(checkpoint_file.string()));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  expect_contains(result.output, "was trained on the idx set 'my-glyphs', which has no default directory: give --data-dir");
  result = train_gpu("evaluate --device cpu --checkpoint " + shell_quote(checkpoint_file.string()) + " --data-dir " +
                     shell_quote(data_.string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  expect_contains(result.output, "trained on idx (my-glyphs)");
  EXPECT_EQ(nlohmann::json::parse(read_text(run / "evaluation" / "evaluation.json"))["samples"], 100);
}

// Twelve classes do not fit the tutorial model's ten: one line, before any run directory; inspect
// lists every class.
TEST_F(IdxDataset, TwelveClassesAreRefusedByTheTutorialModelAndInspected) {
  Bytes labels = cycling_labels(100);
  labels[7] = 11;
  write_file(data_ / "t10k-labels-idx1-ubyte", idx_labels(labels));
  const fs::path run = scratch_.path() / "run";
  MergedCommandResult result = train_gpu("train --dataset idx --data-dir " + shell_quote(data_.string()) +
                                         " --epochs 1 --device cpu --no-progress --run-dir " + shell_quote(run.string()));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  expect_contains(result.output, "error: the tutorial model takes 1x28x28 images in 10 classes; idx set 'glyphs' has "
                                 "1x28x28 in 12: give a model that fits with --model\n");
  EXPECT_FALSE(fs::exists(run));
  result = train_gpu("inspect --dataset idx --data-dir " + shell_quote(data_.string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  expect_contains(result.output, "\n  11      0.000000   1.000000\n");  // class 11: none in train, 1 of 100 in test
}

TEST_F(IdxDataset, TheNameDefaultsToTheDirectorysAndNeedsIdx) {
  const fs::path run = scratch_.path() / "run";
  MergedCommandResult result = train_gpu("train --dataset idx --data-dir " + shell_quote(data_.string()) +
                                         " --dry-run --device cpu --no-tensorboard --no-progress --run-dir " +
                                         shell_quote(run.string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(nlohmann::json::parse(read_text(run / "config.json"))["dataset"]["dataset_name"], "glyphs");

  result = train_gpu("train --dataset idx --dry-run --device cpu --run-dir " + shell_quote((scratch_.path() / "r2").string()));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  expect_contains(result.output, "--dataset idx has no default directory: give --data-dir");
  result = train_gpu("train --dataset mnist --dataset-name mine --data-dir " + shell_quote(data_.string()) +
                     " --dry-run --device cpu --run-dir " + shell_quote((scratch_.path() / "r3").string()));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  expect_contains(result.output, "--dataset-name 'mine' names an idx, cifar10 or folder set; give it with one of those --dataset kinds");
}

}  // namespace
}  // namespace train_gpu::testing
