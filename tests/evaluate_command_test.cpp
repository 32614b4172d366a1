// `train_gpu evaluate` and `train_gpu features`, run as a user runs them: the built binary on a
// checkpoint this test writes (all weights zero, fc2.bias = e_1, so every image is predicted as
// class 1 -- see evaluator_test.cpp for the closed forms), checking exit codes, output and files.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "host/common/format.h"
#include "host/data/dataset.h"
#include "host/train/checkpoint.h"
#include "support/png_size.h"
#include "support/state_dict_file.h"
#include "support/test_support.h"

namespace train_gpu {
namespace {

namespace fs = std::filesystem;
namespace t = train_gpu::testing;  // test helpers (support/test_support.h)

bool have(const char* dir) { return fs::exists(fs::path(dir) / "t10k-labels-idx1-ubyte.gz"); }

std::string quoted(const fs::path& path) { return t::shell_quote(path.string()); }

class EvaluateCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have(TRAIN_GPU_MNIST_DIR)) GTEST_SKIP() << "MNIST not found in " << TRAIN_GPU_MNIST_DIR;
    run_dir_ = dir_.path() / "run";
    checkpoint_ = write_checkpoint(run_dir_ / "checkpoints" / "epoch-001.safetensors", "mnist");
  }

  static fs::path write_checkpoint(const fs::path& file, const std::string& dataset) {
    fs::create_directories(file.parent_path());
    Checkpoint checkpoint;
    checkpoint.state.parameters.assign(model::kParameterCount, 0.0f);
    checkpoint.state.adam_m.assign(model::kParameterCount, 0.0f);
    checkpoint.state.adam_v.assign(model::kParameterCount, 0.0f);
    checkpoint.state.parameters[model::kFc2BiasOffset + 1] = 1.0f;
    checkpoint.state.step = 938;
    checkpoint.metadata.epoch = 1;
    checkpoint.metadata.seed = 42;
    checkpoint.metadata.dataset = dataset;
    save_checkpoint(file, checkpoint);
    return file;
  }

  t::MergedCommandResult train_gpu(const std::string& arguments) const {
    return t::run_command_merged(t::shell_quote(TRAIN_GPU_BINARY) + " " + arguments);
  }

  std::string mnist_args() const { return std::string("--device cpu --data-dir '") + TRAIN_GPU_MNIST_DIR + "'"; }

  // A one-epoch run of the trainer (640 training, 300 test images), then `evaluate` on its
  // checkpoint with the same limits; returns the first failure or evaluate's result.
  t::MergedCommandResult train_then_evaluate(const fs::path& run) const {
    const std::string limits = " --limit-train 640 --limit-test 300";
    t::MergedCommandResult result = train_gpu("train --epochs 1 --no-progress --run-dir " + quoted(run) + " " + mnist_args() + limits);
    if (result.exit_code != 0) return result;
    return train_gpu("evaluate --checkpoint " + quoted(run / "checkpoints" / "epoch-001.safetensors") + " " + mnist_args() + limits);
  }

  t::TempDir dir_;
  fs::path run_dir_;
  fs::path checkpoint_;
};

TEST_F(EvaluateCommand, WritesReportIntoTheRunsEvaluationDirectory) {
  const t::MergedCommandResult result =
      train_gpu("evaluate --checkpoint " + quoted(checkpoint_) + " " + mnist_args() + " --limit-test 1000");
  ASSERT_EQ(result.exit_code, 0) << result.output;

  // Expected from the labels: accuracy = share of ones, loss = log(e + 9) - share of ones.
  const Dataset mnist = load_dataset(TRAIN_GPU_MNIST_DIR, DatasetKind::kMnist);
  int64_t ones = 0;
  for (int i = 0; i < 1000; ++i) ones += mnist.test.labels[static_cast<size_t>(i)] == 1;
  const double share = double(ones) / 1000.0;
  const std::string line = "test loss " + fixed(std::log(std::exp(1.0) + 9.0) - share, 4) + "  acc " + fixed(100 * share, 2) + "%";
  EXPECT_NE(result.output.find(line), std::string::npos) << "expected '" << line << "' in\n" << result.output;
  EXPECT_NE(result.output.find("true\\pred"), std::string::npos);
  EXPECT_NE(result.output.find("macro precision"), std::string::npos);

  const fs::path out = run_dir_ / "evaluation";
  for (const char* name : {"confusion.csv", "evaluation.json", "mistakes.csv", "mistakes.png", "mistake_images.npy",
                           "sample_images.npy", "sample_labels.npy", "features-test-0.png"}) {
    EXPECT_TRUE(fs::is_regular_file(out / name)) << name;
  }
  const nlohmann::json json = nlohmann::json::parse(t::read_text(out / "evaluation.json"));
  EXPECT_EQ(json["samples"], 1000);
  EXPECT_EQ(json["correct"], ones);
  EXPECT_EQ(json["confusion"][1][1], ones);
  EXPECT_FALSE(json["classes"][0]["precision_defined"].get<bool>());  // nothing predicted as 0
}

// Issue 24 item 7: the test split needs only the test files; the 60,000 training images were
// decoded and hashed anyway. A directory holding only the two test files proves they are not read.
TEST_F(EvaluateCommand, TheTestSplitReadsOnlyTheTestFiles) {
  const fs::path test_only = dir_.path() / "test-only";
  fs::create_directories(test_only);
  for (const char* name : {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}) {
    fs::create_symlink(fs::absolute(fs::path(TRAIN_GPU_MNIST_DIR) / name), test_only / name);
  }
  const std::string data = "--device cpu --data-dir " + quoted(test_only) + " --limit-test 500";
  t::MergedCommandResult result = train_gpu("evaluate --checkpoint " + quoted(checkpoint_) + " " + data + " --out " +
                                            quoted(dir_.path() / "evaluation"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output.find("train images"), std::string::npos) << result.output;
  EXPECT_EQ(nlohmann::json::parse(t::read_text(dir_.path() / "evaluation" / "evaluation.json"))["samples"], 500);

  result = train_gpu("features --checkpoint " + quoted(checkpoint_) + " --index 3 " + data + " --out " +
                     quoted(dir_.path() / "features"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_TRUE(fs::is_regular_file(dir_.path() / "features" / "features-test-3.npy")) << result.output;

  // The train split still needs its files, and says which is missing.
  result = train_gpu("evaluate --split train --checkpoint " + quoted(checkpoint_) + " " + data + " --out " +
                     quoted(dir_.path() / "train-evaluation"));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("train images"), std::string::npos) << result.output;
}

TEST_F(EvaluateCommand, OutOptionAndTrainSplit) {
  const fs::path out = dir_.path() / "elsewhere";
  const t::MergedCommandResult result = train_gpu("evaluate --checkpoint " + quoted(checkpoint_) + " " + mnist_args() +
                                                    " --split train --limit-train 300 --out " + quoted(out));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("train loss "), std::string::npos) << result.output;
  const nlohmann::json json = nlohmann::json::parse(t::read_text(out / "evaluation.json"));
  EXPECT_EQ(json["split"], "train");
  EXPECT_EQ(json["samples"], 300);
  EXPECT_TRUE(fs::is_regular_file(out / "features-train-0.npy"));
  EXPECT_FALSE(fs::exists(run_dir_ / "evaluation"));
}

TEST_F(EvaluateCommand, DatasetContradictingTheCheckpointIsAClearError) {
  const t::MergedCommandResult result =
      train_gpu("evaluate --checkpoint " + quoted(checkpoint_) + " --dataset fashion-mnist --device cpu");
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("was trained on mnist, but --dataset is fashion-mnist"), std::string::npos) << result.output;
}

TEST_F(EvaluateCommand, FashionCheckpointPicksItsDatasetAndClassNames) {
  if (!have(TRAIN_GPU_FASHION_DIR)) GTEST_SKIP() << "Fashion-MNIST not found in " << TRAIN_GPU_FASHION_DIR;
  const fs::path fashion = write_checkpoint(dir_.path() / "fashion" / "model.safetensors", "fashion-mnist");
  const fs::path out = dir_.path() / "fashion-eval";
  const t::MergedCommandResult result =
      train_gpu("evaluate --checkpoint " + quoted(fashion) + " --device cpu --data-dir '" + TRAIN_GPU_FASHION_DIR +
                "' --limit-test 200 --out " + quoted(out));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("1 Trouser"), std::string::npos) << result.output;
  const std::string csv = t::read_text(out / "confusion.csv");
  EXPECT_EQ(csv.rfind("true\\predicted,T-shirt/top,Trouser,Pullover,", 0), 0u) << csv;
  const nlohmann::json json = nlohmann::json::parse(t::read_text(out / "evaluation.json"));
  EXPECT_EQ(json["dataset"], "fashion-mnist");
}

TEST_F(EvaluateCommand, MissingOrCorruptCheckpointFails) {
  t::MergedCommandResult result = train_gpu("evaluate --checkpoint " + quoted(dir_.path() / "absent.safetensors") + " " + mnist_args());
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("absent.safetensors"), std::string::npos) << result.output;

  const fs::path corrupt = dir_.path() / "corrupt.safetensors";
  std::ofstream(corrupt) << "not a checkpoint";
  result = train_gpu("evaluate --checkpoint " + quoted(corrupt) + " " + mnist_args());
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("train_gpu: error:"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("corrupt.safetensors"), std::string::npos) << result.output;

  result = train_gpu("evaluate " + mnist_args());
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("--checkpoint"), std::string::npos) << result.output;
}

// A FIFO as --checkpoint blocked evaluate forever in open(); it is refused at once. Under
// timeout(1), so that a regression fails (exit 124) instead of hanging the suite.
TEST_F(EvaluateCommand, FifoCheckpointIsRefusedAtOnce) {
  const fs::path fifo = dir_.path() / "pipe.safetensors";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const t::MergedCommandResult result =
      t::run_command_merged("timeout -k 10 300 " + t::shell_quote(TRAIN_GPU_BINARY) + " evaluate --checkpoint " + quoted(fifo) +
                            " " + mnist_args() + " </dev/null");
  EXPECT_EQ(result.exit_code, 1) << "124: it hung on the FIFO\n" << result.output;
  EXPECT_NE(result.output.find(fifo.string() + ": is a FIFO (named pipe), expected a .safetensors checkpoint"), std::string::npos)
      << result.output;
}

TEST_F(EvaluateCommand, FeaturesPrintsPredictionAndWritesMaps) {
  const t::MergedCommandResult result =
      train_gpu("features --checkpoint " + quoted(checkpoint_) + " --index 10 " + mnist_args() + " --limit-test 100");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const Dataset mnist = load_dataset(TRAIN_GPU_MNIST_DIR, DatasetKind::kMnist);
  const int label = mnist.test.labels[10];
  // e / (e + 9) = 0.2320 for class 1.
  const std::string line = "test image 10: label " + std::to_string(label) + " (" + std::to_string(label) +
                           "), predicted 1 (1) with probability 0.2320";
  EXPECT_NE(result.output.find(line), std::string::npos) << "expected '" << line << "' in\n" << result.output;
  // Zero convolution weights and biases: every map is all zero after ReLU.
  EXPECT_NE(result.output.find("32 of 32 are all zero"), std::string::npos) << result.output;

  const fs::path out = run_dir_ / "evaluation";
  EXPECT_EQ(fs::file_size(out / "features-test-10.npy"), 128u + 32 * 26 * 26 * 4);
  EXPECT_EQ(fs::file_size(out / "features-test-10-input.npy"), 128u + 28 * 28);
  const t::PngSize size = t::png_size(out / "features-test-10.png");
  EXPECT_TRUE(size.valid);
  EXPECT_EQ(size.width, 4u + 8 * 108);
  EXPECT_EQ(size.height, 4u + 4 * 108 + 22);  // and the "EPOCH 1 STEP 938" strip
  const std::string input = t::read_text(out / "features-test-10-input.npy");
  EXPECT_EQ(input.substr(128), std::string(reinterpret_cast<const char*>(mnist.test.image(10)), 784));
}

// A PyTorch state_dict of the same weights (six tensors, no metadata: what save_file writes;
// checkpoint_test.cpp covers the reader, state_dict_python_test.cpp a file PyTorch's library wrote).
TEST_F(EvaluateCommand, StateDictWithoutMetadataIsEvaluatedWithANotice) {
  std::vector<float> parameters(model::kParameterCount, 0.0f);
  parameters[model::kFc2BiasOffset + 1] = 1.0f;
  const fs::path state_dict = dir_.path() / "net.safetensors";
  t::write_state_dict(state_dict, parameters);

  const std::string common = " " + mnist_args() + " --limit-test 1000 --out " + quoted(dir_.path() / "out");
  const t::MergedCommandResult ours = train_gpu("evaluate --checkpoint " + quoted(checkpoint_) + common);
  const t::MergedCommandResult foreign = train_gpu("evaluate --checkpoint " + quoted(state_dict) + common);
  ASSERT_EQ(foreign.exit_code, 0) << foreign.output;
  EXPECT_NE(foreign.output.find("note: " + state_dict.string() + " carries no train_gpu metadata"), std::string::npos)
      << foreign.output;
  EXPECT_NE(foreign.output.find("dataset mnist:"), std::string::npos) << foreign.output;
  const size_t line = ours.output.find("test loss ");
  ASSERT_NE(line, std::string::npos) << ours.output;
  const std::string summary = ours.output.substr(line, ours.output.find('\n', line) - line);
  EXPECT_NE(foreign.output.find(summary), std::string::npos) << "expected '" << summary << "' in\n" << foreign.output;

  const t::MergedCommandResult features =
      train_gpu("features --checkpoint " + quoted(state_dict) + " --index 10" + common);
  ASSERT_EQ(features.exit_code, 0) << features.output;
  EXPECT_NE(features.output.find("carries no train_gpu metadata"), std::string::npos) << features.output;
  EXPECT_NE(features.output.find("predicted 1 (1) with probability 0.2320"), std::string::npos) << features.output;
}

// --layer picks the tutorial's one Conv2D by position or name (the same files as without it);
// any other layer is one error line, given before anything is loaded.
TEST_F(EvaluateCommand, FeaturesLayerPicksAConv2D) {
  const std::string common = " --index 10 " + mnist_args() + " --limit-test 100 --out " + quoted(dir_.path() / "layer");
  t::MergedCommandResult result = train_gpu("features --checkpoint " + quoted(checkpoint_) + " --layer conv2d" + common);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  t::expect_contains(result.output, "feature maps of layer 1 (conv2d): (32, 26, 26) after relu; 32 of 32 are all zero");
  EXPECT_TRUE(fs::is_regular_file(dir_.path() / "layer" / "features-test-10.npy")) << result.output;

  result = train_gpu("features --checkpoint " + quoted(checkpoint_) + " --layer 3" + common);
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_EQ(t::lines_of(result.output).size(), 1u) << result.output;
  t::expect_contains(result.output, "--layer 3: layer 3 (flatten) is a Flatten, not a Conv2D; the Conv2D layers are 1 (conv2d)");
}

TEST_F(EvaluateCommand, FeaturesIndexOutsideTheSplitIsAnError) {
  const t::MergedCommandResult result =
      train_gpu("features --checkpoint " + quoted(checkpoint_) + " --index 100 " + mnist_args() + " --limit-test 100");
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("--index 100 is outside the test split (0..99)"), std::string::npos) << result.output;
}

// End to end: what the trainer writes, evaluate reads. The evaluation of the last checkpoint on
// the same test images must reproduce the test metrics the trainer logged for that epoch.
TEST_F(EvaluateCommand, EvaluatesACheckpointTheTrainerWrote) {
  const fs::path run = dir_.path() / "trained";
  const t::MergedCommandResult result = train_then_evaluate(run);
  ASSERT_EQ(result.exit_code, 0) << result.output;

  const std::string metrics = t::read_text(run / "metrics.csv");
  const size_t row = metrics.find("\n1,");
  ASSERT_NE(row, std::string::npos) << metrics;
  double train_loss, train_accuracy, test_loss, test_accuracy;
  ASSERT_EQ(std::sscanf(metrics.c_str() + row + 3, "%lf,%lf,%lf,%lf", &train_loss, &train_accuracy, &test_loss, &test_accuracy), 4)
      << metrics;
  const nlohmann::json json = nlohmann::json::parse(t::read_text(run / "evaluation" / "evaluation.json"));
  // Same backend, batches and images: the same numbers, up to metrics.csv's 6 decimals.
  EXPECT_LE(std::abs(json["accuracy"].get<double>() - test_accuracy), 5.1e-7) << metrics;
  EXPECT_LE(std::abs(json["loss"].get<double>() - test_loss), 5.1e-7) << metrics;
  EXPECT_NE(result.output.find("test loss " + fixed(test_loss, 4) + "  acc " + fixed(100 * test_accuracy, 2) + "%"),
            std::string::npos)
      << result.output;
}

// Issue 24, item 1: evaluating an older checkpoint of a finished run must not replace the run's
// final evaluation (tools/plot.py would draw its confusion matrix beside the last epoch's curves),
// and every evaluation.json says which checkpoint, epoch and step it describes.
TEST_F(EvaluateCommand, OlderCheckpointIsEvaluatedBesideTheRunsFinalEvaluation) {
  const fs::path run = dir_.path() / "two-epochs";
  const std::string limits = " --limit-train 640 --limit-test 300";  // 640 / 64 = 10 steps per epoch
  t::MergedCommandResult result =
      train_gpu("train --epochs 2 --no-progress --run-dir " + quoted(run) + " " + mnist_args() + limits);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const fs::path final_json = run / "evaluation" / "evaluation.json";
  const std::string final_text = t::read_text(final_json);
  const nlohmann::json final_evaluation = nlohmann::json::parse(final_text);
  const auto absolute = [](const fs::path& p) { return fs::absolute(p).lexically_normal().string(); };
  EXPECT_EQ(final_evaluation["checkpoint"], absolute(run / "checkpoints" / "epoch-002.safetensors")) << final_text;
  EXPECT_EQ(final_evaluation["epoch"], 2);
  EXPECT_EQ(final_evaluation["step"], 20);

  const fs::path older = run / "checkpoints" / "epoch-001.safetensors";
  result = train_gpu("evaluate --checkpoint " + quoted(older) + " " + mnist_args() + limits);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  t::expect_contains(result.output, "writing to " + (run / "evaluation" / "epoch-001").string() + ": " +
                                        (run / "evaluation").string() + " keeps the run's final evaluation");
  EXPECT_EQ(t::read_text(final_json), final_text) << "the final evaluation was replaced";
  const nlohmann::json epoch1 = nlohmann::json::parse(t::read_text(run / "evaluation" / "epoch-001" / "evaluation.json"));
  EXPECT_EQ(epoch1["checkpoint"], absolute(older));
  EXPECT_EQ(epoch1["epoch"], 1);
  EXPECT_EQ(epoch1["step"], 10);
  EXPECT_TRUE(t::png_size(run / "evaluation" / "epoch-001" / "mistakes.png").valid);

  // The newest checkpoint again: its own directory, the same checkpoint, so nothing to announce.
  result = train_gpu("evaluate --checkpoint " + quoted(run / "checkpoints" / "epoch-002.safetensors") + " " + mnist_args() + limits);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output.find("keeps the run's final evaluation"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("note: replacing"), std::string::npos) << result.output;
  EXPECT_EQ(nlohmann::json::parse(t::read_text(final_json))["epoch"], 2);

  // An explicit --out over another checkpoint's evaluation is the user's call, but it is said.
  result = train_gpu("evaluate --checkpoint " + quoted(older) + " " + mnist_args() + limits + " --out " + quoted(run / "evaluation"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  t::expect_contains(result.output, "note: replacing " + final_json.string() + ", the evaluation of " +
                                        absolute(run / "checkpoints" / "epoch-002.safetensors") + " (epoch 2, step 20, test split)");
}

// tools/plot.py draws every figure of a run the trainer and evaluate wrote (plot_script_test
// checks the figures' sizes and the script's errors on fabricated inputs).
TEST_F(EvaluateCommand, PlotScriptDrawsEveryFigureOfATrainedRun) {
  if (!t::system_python_has("numpy, matplotlib")) GTEST_SKIP() << "/usr/bin/python3 lacks numpy or matplotlib";
  const fs::path run = dir_.path() / "trained";
  t::MergedCommandResult result = train_then_evaluate(run);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  result = t::run_command_merged("/usr/bin/python3 '" + std::string(TRAIN_GPU_SOURCE_DIR) + "/tools/plot.py' " + quoted(run));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output.find("skipping"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("8 figure(s)"), std::string::npos) << result.output;
  for (const char* name : {"label_distribution.png", "loss.png", "accuracy.png", "learning_rate.png", "confusion.png",
                           "features.png", "samples.png", "mistakes.png"}) {
    EXPECT_TRUE(t::png_size(run / "plots" / name).valid) << name << "\n" << result.output;
  }
}

}  // namespace
}  // namespace train_gpu
